import { createPrivateKey, createSecretKey, type KeyObject } from 'node:crypto';
import { isPlainObject, type ConfigSection } from '../../config/section';
import { optionalCa } from '../ca-file';

export const DEFAULT_FCM_ENDPOINT = 'https://fcm.googleapis.com';
/** What service-account files written before `token_uri` existed imply. */
export const DEFAULT_TOKEN_URI = 'https://oauth2.googleapis.com/token';
/** Sygnal's default for max_connections. */
export const DEFAULT_MAX_CONNECTIONS = 20;
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/** The parts of a service-account key file Herald uses. The key never leaves this object. */
export interface ServiceAccount {
  readonly clientEmail: string;
  /** Parsed once at start-up: a KeyObject does not serialise its secret by accident. */
  readonly privateKey: KeyObject;
  readonly privateKeyId?: string;
  readonly tokenUri: string;
  readonly projectId?: string;
}

export type JsonObject = { readonly [key: string]: unknown };

/**
 * How an app signs in to FCM: the service-account key file it names, or, without one,
 * Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's file, the
 * GCE / GKE metadata server), which google-auth-library finds when the pushkin starts.
 */
export type FcmCredentials =
  | { readonly kind: 'service_account_file'; readonly file: string; readonly account: ServiceAccount }
  | { readonly kind: 'application_default' };

export interface FcmConfig {
  /** Always configured, Application Default Credentials or not: see docs/fcm.md. */
  readonly projectId: string;
  readonly credentials: FcmCredentials;
  /** Deep-frozen copy of `fcm_options`: the base of every message, never mutated. */
  readonly fcmOptions: JsonObject;
  readonly maxConnections: number;
  readonly sendBadgeCounts: boolean;
  /** Base URL of the FCM API (Herald: `endpoint`), without a trailing slash. */
  readonly endpoint: string;
  /** Extra CA certificates (PEM) to trust besides the system's (Herald: `ca_file`), for relays and staging. */
  readonly ca?: string;
  readonly requestTimeoutMs: number;
}

const LEGACY_GONE =
  "Google shut FCM's legacy HTTP API (server keys, /fcm/send) down in 2024. " +
  'Move to HTTP v1: remove `api_key`, set `api_version: v1`, `project_id` (Firebase console → Project settings → General) ' +
  'and `service_account_file` (Project settings → Service accounts → Generate new private key). See docs/fcm.md.';

/** Top-level fields of a v1 Message that fcm_options may set (besides data and the recipient). */
const MESSAGE_KEYS = new Set(['android', 'apns', 'webpush', 'notification', 'fcm_options']);
/** Options of the shut-down legacy API that Sygnal configs may still carry. */
const LEGACY_OPTION_KEYS = new Set(['priority', 'time_to_live', 'collapse_key', 'content_available', 'mutable_content', 'delay_while_idle', 'dry_run', 'restricted_package_name']);

/** Keys of a v1 Message that choose the recipient: Herald sets `token`; the others would send elsewhere. */
const TARGET_KEYS = ['token', 'topic', 'condition'] as const;

/** Reads `apps.<name>` for `type: gcm` / `fcm`. Reports every problem on the section; never throws. */
export function readFcmConfig(section: ConfigSection): FcmConfig {
  // rawValue marks the key as read, so it gets this explanation rather than an "unknown key" warning too.
  const apiKey = section.rawValue('api_key');
  if (apiKey !== undefined && apiKey !== null) section.error('api_key', LEGACY_GONE);
  const apiVersion = section.string('api_version', { default: 'v1' });
  if (apiVersion === 'legacy') section.error('api_version', LEGACY_GONE);
  else if (apiVersion !== 'v1') section.error('api_version', `must be "v1", got ${JSON.stringify(apiVersion)}`);

  const projectId = section.string('project_id', { required: true }) ?? '';
  // Google's rule for project ids; a number here is usually a project *number* (the sender id).
  if (projectId && !/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(projectId)) {
    section.error('project_id', `must be the Firebase project id (6–30 lowercase letters, digits and hyphens, starting with a letter), got ${JSON.stringify(projectId)}; the project number is not the id`);
  }
  return {
    projectId,
    credentials: readCredentials(section, projectId),
    fcmOptions: readFcmOptions(section),
    maxConnections: section.integer('max_connections', { default: DEFAULT_MAX_CONNECTIONS, min: 1, max: 1000 }),
    sendBadgeCounts: section.boolean('send_badge_counts', { default: true }),
    endpoint: readEndpoint(section),
    ...optionalCa(section),
    requestTimeoutMs: section.integer('request_timeout_ms', { default: DEFAULT_REQUEST_TIMEOUT_MS, min: 100 }),
  };
}

function readCredentials(section: ConfigSection, projectId: string): FcmCredentials {
  const named = section.rawValue('service_account_file');
  if (named === undefined || named === null) return { kind: 'application_default' };
  const file = section.fileText('service_account_file');
  const account = file ? parseServiceAccount(file.text, section) : undefined;
  if (account?.projectId && projectId && account.projectId !== projectId) {
    section.warn(
      'project_id',
      `differs from the service account's project (${JSON.stringify(account.projectId)}); ` +
        'sends fail with PERMISSION_DENIED unless that account was granted access to this project',
    );
  }
  return {
    kind: 'service_account_file',
    file: file?.path ?? '',
    // Placeholder when the file is bad: start-up stops on the recorded error before it is used.
    account: account ?? { clientEmail: '', privateKey: createSecretKey(Buffer.alloc(1)), tokenUri: DEFAULT_TOKEN_URI },
  };
}

function parseServiceAccount(text: string, section: ConfigSection): ServiceAccount | undefined {
  const key = 'service_account_file';
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    section.error(key, 'is not JSON; expected the key file downloaded from Firebase (Project settings → Service accounts)');
    return undefined;
  }
  if (!isPlainObject(raw)) {
    section.error(key, 'must hold a JSON object');
    return undefined;
  }
  if (raw.type !== 'service_account') {
    section.error(key, `must be a service account key ("type": "service_account"), got "type": ${JSON.stringify(raw.type ?? null)}`);
    return undefined;
  }
  const clientEmail = raw.client_email;
  if (typeof clientEmail !== 'string' || clientEmail === '') {
    section.error(key, 'has no "client_email"');
    return undefined;
  }
  if (typeof raw.private_key !== 'string') {
    section.error(key, 'has no "private_key"');
    return undefined;
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(raw.private_key);
  } catch {
    // The parser's message can quote key material: say only that it failed.
    section.error(key, '"private_key" is not a PEM private key that can be read');
    return undefined;
  }
  if (privateKey.asymmetricKeyType !== 'rsa') {
    section.error(key, `"private_key" must be an RSA key (RS256), got ${privateKey.asymmetricKeyType ?? 'unknown'}`);
    return undefined;
  }
  const tokenUri = raw.token_uri ?? DEFAULT_TOKEN_URI;
  if (typeof tokenUri !== 'string' || !isHttpUrl(tokenUri)) {
    section.error(key, `"token_uri" must be an http(s) URL, got ${JSON.stringify(tokenUri)}`);
    return undefined;
  }
  return {
    clientEmail,
    privateKey,
    tokenUri,
    ...(typeof raw.private_key_id === 'string' && raw.private_key_id ? { privateKeyId: raw.private_key_id } : {}),
    ...(typeof raw.project_id === 'string' && raw.project_id ? { projectId: raw.project_id } : {}),
  };
}

function readFcmOptions(section: ConfigSection): JsonObject {
  const raw = section.rawValue('fcm_options');
  if (raw === undefined || raw === null) return Object.freeze({});
  if (!isPlainObject(raw)) {
    section.error('fcm_options', 'must be a mapping of FCM v1 Message fields (android, apns, webpush, notification, fcm_options)');
    return Object.freeze({});
  }
  for (const target of TARGET_KEYS) {
    if (raw[target] !== undefined) {
      section.problems.error(`${section.keyPath('fcm_options')}.${target}`, 'not allowed: Herald sends each message to the device pushkey (message.token)');
    }
  }
  if (raw.data !== undefined) {
    section.problems.warn(`${section.keyPath('fcm_options')}.data`, "ignored: message.data is built from each notification; put fixed keys in the pusher's default_payload");
  }
  // Anything else at the top of a v1 Message is refused by FCM for every send: catch it now.
  for (const key of Object.keys(raw)) {
    if (MESSAGE_KEYS.has(key) || (TARGET_KEYS as readonly string[]).includes(key) || key === 'data') continue;
    const legacy = LEGACY_OPTION_KEYS.has(key) ? ` (a legacy API option: in v1 it lives under fcm_options.android, e.g. android.priority, android.ttl, android.collapse_key)` : '';
    section.problems.error(
      `${section.keyPath('fcm_options')}.${key}`,
      `not a field of an FCM v1 message${legacy}; allowed: ${[...MESSAGE_KEYS].join(', ')}`,
    );
  }
  // A private copy, frozen all the way down: messages are built from it concurrently.
  return deepFreeze(structuredClone(raw));
}

function readEndpoint(section: ConfigSection): string {
  const value = section.string('endpoint', { default: DEFAULT_FCM_ENDPOINT });
  if (!isHttpUrl(value)) {
    section.error('endpoint', `must be an http(s) base URL, got ${JSON.stringify(value)}`);
    return DEFAULT_FCM_ENDPOINT;
  }
  const url = new URL(value);
  if (url.search || url.hash) section.error('endpoint', 'must not have a query or fragment');
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

