import type { ConfigSection } from '../../config/section';
import { endpointPatterns } from '../../upstream/endpoint';
import { optionalCa } from '../ca-file';

/** What the UnifiedPush common-proxies gateway sends as TTL. */
export const DEFAULT_TTL_S = 86_400;
export const DEFAULT_MAX_CONNECTIONS = 20;
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** common-proxies remembers a refused endpoint for 10 minutes… */
export const DEFAULT_REMEMBER_REFUSED_MS = 10 * 60_000;
/** …and a temporarily unavailable one for 1 minute. */
export const DEFAULT_REMEMBER_UNAVAILABLE_MS = 60_000;
/** What common distributors accept (ntfy's message limit is 4096 bytes). */
export const DEFAULT_MAX_BODY_BYTES = 4096;
const MAX_TTL_S = 28 * 24 * 60 * 60;

export interface UnifiedPushConfig {
  /** `allowed_endpoints` as written, for the summary; undefined allows every host. */
  readonly allowedEndpoints?: readonly string[];
  readonly allowedPatterns?: readonly RegExp[];
  /** Send to loopback, private and link-local addresses too (tests, a distributor on a private network). */
  readonly allowPrivateEndpoints: boolean;
  /** Seconds the distributor keeps an undelivered message (the `TTL` header). */
  readonly ttl: number;
  readonly maxConnections: number;
  readonly requestTimeoutMs: number;
  /** How long a distributor host refused at connect time is answered from memory (0: not remembered). */
  readonly rememberRefusedMs: number;
  /** How long a temporarily unavailable distributor host is answered from memory (0: not remembered). */
  readonly rememberUnavailableMs: number;
  /** The forwarded body's limit in bytes; `content` is dropped first to stay under it. */
  readonly maxBodyBytes: number;
  /** Extra CA certificates (PEM) trusted besides the system's (`ca_file`). */
  readonly ca?: string;
}

/** Reads `apps.<name>` for `type: unifiedpush`. Reports every problem on the section; never throws. */
export function readUnifiedPushConfig(section: ConfigSection): UnifiedPushConfig {
  const allowedEndpoints = section.stringList('allowed_endpoints');
  if (allowedEndpoints?.length === 0) section.error('allowed_endpoints', 'is empty: no endpoint could be sent to; remove the key to allow every distributor');
  return {
    ...(allowedEndpoints !== undefined ? { allowedEndpoints, allowedPatterns: endpointPatterns(allowedEndpoints) } : {}),
    allowPrivateEndpoints: section.boolean('allow_private_endpoints', { default: false }),
    ttl: section.integer('ttl', { default: DEFAULT_TTL_S, min: 0, max: MAX_TTL_S }),
    maxConnections: section.integer('max_connections', { default: DEFAULT_MAX_CONNECTIONS, min: 1, max: 1000 }),
    requestTimeoutMs: section.integer('request_timeout_ms', { default: DEFAULT_REQUEST_TIMEOUT_MS, min: 100 }),
    rememberRefusedMs: section.integer('remember_refused_ms', { default: DEFAULT_REMEMBER_REFUSED_MS, min: 0 }),
    rememberUnavailableMs: section.integer('remember_unavailable_ms', { default: DEFAULT_REMEMBER_UNAVAILABLE_MS, min: 0 }),
    maxBodyBytes: section.integer('max_body_bytes', { default: DEFAULT_MAX_BODY_BYTES, min: 256, max: 1024 * 1024 }),
    ...optionalCa(section),
  };
}
