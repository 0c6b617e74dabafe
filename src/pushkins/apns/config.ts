import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ConfigSection } from '../../config/section';
import {
  checkCertificate,
  checkTokenKey,
  loadPemCertificate,
  loadPkcs12Certificate,
  type ApnsEnvironment,
  type Loaded,
  type LoadedCertificate,
} from './credentials';

/**
 * `type: apns` settings: Sygnal's keys (`sygnal/apnspushkin.py`, `UNDERSTOOD_CONFIG_FIELDS`) plus Herald's
 * `endpoint`, `ca_file`, `request_timeout_ms` and `max_connections`. Every check that
 * needs no network runs here, so `herald check-config` catches bad credentials.
 */

/** Values of the apns-push-type header Apple documents. */
export const PUSH_TYPES = [
  'alert', 'background', 'voip', 'complication', 'fileprovider', 'mdm',
  'location', 'liveactivity', 'pushtotalk', 'widgets', 'controls',
] as const;
export type ApnsPushType = (typeof PUSH_TYPES)[number];

const PLATFORMS = ['production', 'prod', 'sandbox'] as const;

/** Key ids and team ids: 10 capital letters and digits. */
const APPLE_ID = /^[A-Z0-9]{10}$/;

/**
 * The topic suffix Apple requires for push types that are not sent to the bundle id
 * itself. A wrong topic makes APNs answer DeviceTokenNotForTopic for every device, which
 * would reject (and delete) every user's pusher: refuse it at start-up instead.
 */
const TOPIC_SUFFIXES: Partial<Record<ApnsPushType, string>> = {
  voip: '.voip',
  complication: '.complication',
  fileprovider: '.pushkit.fileprovider',
  location: '.location-query',
  liveactivity: '.push-type.liveactivity',
  pushtotalk: '.voip-ptt',
};

/** node-apn's own default: how long a request may see no activity before it is abandoned. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;

export interface CertificateAuth {
  readonly kind: 'certificate';
  readonly file: string;
  readonly credentials: LoadedCertificate;
  readonly passphrase?: string;
  /** Expiry, ms since the epoch (for sygnal_client_cert_expiry). */
  readonly notAfter: number;
}

export interface TokenAuth {
  readonly kind: 'token';
  readonly file: string;
  /** The .p8 PEM text. */
  readonly key: string;
  readonly keyId: string;
  readonly teamId: string;
}

export interface ApnsEndpoint {
  readonly host: string;
  readonly port: number;
  /** As configured, for logs. */
  readonly url: string;
}

export interface ApnsConfig {
  /** Null only when the section had errors (then the app is never built). */
  readonly auth: CertificateAuth | TokenAuth | null;
  readonly platform: ApnsEnvironment;
  readonly topic?: string;
  readonly pushType?: ApnsPushType;
  readonly convertDeviceTokenToHex: boolean;
  readonly sendBadgeCounts: boolean;
  /** Where to connect instead of Apple (tests, staging, relays). */
  readonly endpoint?: ApnsEndpoint;
  /** Extra trusted CA certificates (PEM) for `endpoint`. */
  readonly ca?: string;
  readonly requestTimeoutMs: number;
  /** HTTP/2 sessions to APNs for this app. */
  readonly maxConnections: number;
}

export function readApnsConfig(section: ConfigSection, now: number = Date.now()): ApnsConfig {
  const platformName = section.oneOf('platform', PLATFORMS, { default: 'production' });
  const platform: ApnsEnvironment = platformName === 'sandbox' ? 'sandbox' : 'production';
  const topic = section.string('topic');
  const pushType = section.oneOf('push_type', PUSH_TYPES);
  const suffix = pushType !== undefined ? TOPIC_SUFFIXES[pushType] : undefined;
  if (suffix !== undefined && topic !== undefined && !topic.endsWith(suffix)) {
    section.error('topic', `push_type ${pushType} is sent to the topic <bundle id>${suffix} (e.g. ${JSON.stringify(topic + suffix)}), got ${JSON.stringify(topic)}`);
  }
  const endpoint = readEndpoint(section);
  const caText = section.fileText('ca_file');
  if (caText !== undefined && !isCertificate(caText.text)) section.error('ca_file', 'holds no PEM certificate');
  if (caText !== undefined && endpoint === undefined) section.warn('ca_file', 'only used with `endpoint`; Apple is trusted through the system CAs');

  const config: ApnsConfig = {
    auth: readAuth(section, platform, topic, endpoint !== undefined, now),
    platform,
    ...(topic !== undefined ? { topic } : {}),
    ...(pushType !== undefined ? { pushType } : {}),
    convertDeviceTokenToHex: section.boolean('convert_device_token_to_hex', { default: true }),
    sendBadgeCounts: section.boolean('send_badge_counts', { default: true }),
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(caText !== undefined ? { ca: caText.text } : {}),
    requestTimeoutMs: section.integer('request_timeout_ms', { default: DEFAULT_REQUEST_TIMEOUT_MS, min: 100, max: 120_000 }),
    maxConnections: section.integer('max_connections', { default: 1, min: 1, max: 64 }),
  };
  return config;
}

function readAuth(
  section: ConfigSection,
  platform: ApnsEnvironment,
  topic: string | undefined,
  hasEndpoint: boolean,
  now: number,
): CertificateAuth | TokenAuth | null {
  section.accept('certfile', 'keyfile');
  const hasCert = section.has('certfile');
  const hasKey = section.has('keyfile');
  // Read every key either way so none of them is reported as unknown.
  const keyId = section.string('key_id');
  const teamId = section.string('team_id');
  const passphrase = section.string('passphrase');
  if (hasCert && hasKey) {
    // Sygnal's rule, so a sygnal.yaml that kept both starts the same way.
    section.warn('keyfile', 'ignored (with key_id and team_id): certfile is also set, and certfile (certificate auth) takes precedence, as in Sygnal; remove one of them');
  }
  if (!hasCert && !hasKey) {
    section.error('certfile', 'required: set certfile (certificate auth) or keyfile with key_id, team_id and topic (token auth)');
    return null;
  }

  if (hasKey && !hasCert) {
    const file = section.fileText('keyfile');
    if (keyId === undefined) section.error('key_id', 'required when keyfile is set');
    if (teamId === undefined) section.error('team_id', 'required when keyfile is set');
    for (const [key, value] of [['key_id', keyId], ['team_id', teamId]] as const) {
      // A wrong id starts fine and then fails every push with InvalidProviderToken.
      if (value !== undefined && !APPLE_ID.test(value)) {
        section.error(key, `must be the 10-character id Apple shows (capital letters and digits), got ${JSON.stringify(value)}; quote it in YAML if it is all digits`);
      }
    }
    if (topic === undefined) section.error('topic', "required when keyfile is set (the app's bundle id)");
    if (passphrase !== undefined) section.warn('passphrase', 'only used with certfile; ignored');
    if (file === undefined) return null;
    const problem = checkTokenKey(file.text);
    if (problem !== undefined) section.error('keyfile', problem);
    if (problem !== undefined || keyId === undefined || teamId === undefined) return null;
    return { kind: 'token', file: file.path, key: file.text, keyId, teamId };
  }

  for (const key of ['key_id', 'team_id'] as const) {
    if (section.has(key) && !hasKey) section.warn(key, 'only used with keyfile (token auth); ignored');
  }
  const path = section.file('certfile');
  if (path === undefined) return null;
  const loaded = loadCertificateFile(path, passphrase);
  if (!loaded.ok) {
    section.error('certfile', loaded.error);
    return null;
  }
  const { certificate } = loaded.value;
  const problems = checkCertificate(certificate, platform, now, hasEndpoint);
  for (const error of problems.errors) section.error('certfile', error);
  for (const warning of problems.warnings) section.warn('certfile', warning);
  if (problems.errors.length > 0) return null;
  return {
    kind: 'certificate',
    file: path,
    credentials: loaded.value,
    ...(passphrase !== undefined ? { passphrase } : {}),
    notAfter: Date.parse(certificate.validTo),
  };
}

function loadCertificateFile(path: string, passphrase: string | undefined): Loaded<LoadedCertificate> {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    return { ok: false, error: `cannot read ${JSON.stringify(path)}: ${(err as Error).message}` };
  }
  // PKCS#12 is binary DER (it starts with a SEQUENCE tag); PEM is text.
  if (/\.(p12|pfx)$/i.test(path) || data[0] === 0x30) return loadPkcs12Certificate(data, passphrase);
  return loadPemCertificate(data.toString('utf8'), passphrase);
}

function readEndpoint(section: ConfigSection): ApnsEndpoint | undefined {
  const value = section.string('endpoint');
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    section.error('endpoint', `not a URL: expected https://host[:port], got ${JSON.stringify(value)}`);
    return undefined;
  }
  if (url.protocol !== 'https:') {
    section.error('endpoint', `must be an https:// URL (APNs is HTTP/2 over TLS), got ${url.protocol}//`);
    return undefined;
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.username !== '') {
    section.error('endpoint', 'must be just https://host[:port], without path, query or credentials');
    return undefined;
  }
  return { host: url.hostname, port: url.port === '' ? 443 : Number(url.port), url: value };
}

function isCertificate(text: string): boolean {
  try {
    new X509Certificate(text);
    return true;
  } catch {
    return false;
  }
}
