import type { ConfigSection } from '../../config/section';
import { optionalCa } from '../ca-file';
import { endpointPatterns } from '../../upstream/endpoint';
import { parseVapidPrivateKey, type VapidKeys } from './vapid';

/** Sygnal's defaults. */
export const DEFAULT_TTL_S = 900;
export const DEFAULT_MAX_CONNECTIONS = 20;
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** RFC 8030 sets no limit; push services keep messages at most four weeks. */
const MAX_TTL_S = 28 * 24 * 60 * 60;

export interface WebPushConfig {
  readonly vapidKeyFile: string;
  readonly vapid: VapidKeys;
  /** The VAPID `sub` claim: `mailto:` + vapid_contact_email. */
  readonly subject: string;
  /** `allowed_endpoints` as written, for the summary; undefined allows every host. */
  readonly allowedEndpoints?: readonly string[];
  readonly allowedPatterns?: readonly RegExp[];
  /** Seconds the push service keeps an undelivered message (the `TTL` header). */
  readonly ttl: number;
  readonly maxConnections: number;
  readonly requestTimeoutMs: number;
  /** Extra CA certificates (PEM) trusted besides the system's (Herald: `ca_file`), for tests and private push services. */
  readonly ca?: string;
  /** Herald: send to loopback, private and link-local addresses too (tests, push services on a private network). */
  readonly allowPrivateEndpoints: boolean;
}

/** Reads `apps.<name>` for `type: webpush`. Reports every problem on the section; never throws. */
export function readWebPushConfig(section: ConfigSection): WebPushConfig {
  const file = section.fileText('vapid_private_key', { required: true });
  let vapid: VapidKeys = { publicKey: '', privateKey: '' };
  if (file) {
    const parsed = parseVapidPrivateKey(file.text);
    if ('problem' in parsed) section.error('vapid_private_key', parsed.problem);
    else vapid = parsed.keys;
  }
  const allowedEndpoints = section.stringList('allowed_endpoints');
  if (allowedEndpoints?.length === 0) section.error('allowed_endpoints', 'is empty: no endpoint could be sent to; remove the key to allow every push service');
  return {
    vapidKeyFile: file?.path ?? '',
    vapid,
    subject: readSubject(section),
    ...(allowedEndpoints !== undefined ? { allowedEndpoints, allowedPatterns: endpointPatterns(allowedEndpoints) } : {}),
    ttl: section.integer('ttl', { default: DEFAULT_TTL_S, min: 0, max: MAX_TTL_S }),
    maxConnections: section.integer('max_connections', { default: DEFAULT_MAX_CONNECTIONS, min: 1, max: 1000 }),
    requestTimeoutMs: section.integer('request_timeout_ms', { default: DEFAULT_REQUEST_TIMEOUT_MS, min: 100 }),
    ...optionalCa(section),
    allowPrivateEndpoints: section.boolean('allow_private_endpoints', { default: false }),
  };
}

function readSubject(section: ConfigSection): string {
  const email = section.string('vapid_contact_email', { required: true }) ?? '';
  const address = email.replace(/^mailto:/i, '');
  if (email !== '' && !/^[^\s@]+@[^\s@]+$/.test(address)) {
    section.error('vapid_contact_email', `must be an email address (push services contact it about Herald's traffic), got ${JSON.stringify(email)}`);
  }
  return `mailto:${address}`;
}
