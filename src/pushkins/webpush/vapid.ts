import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { Clock } from '../../util/clock';

/** A VAPID key pair in the form web-push and browsers use: base64url, no padding. */
export interface VapidKeys {
  /** The uncompressed P-256 point (65 bytes): the web app's `applicationServerKey`. */
  readonly publicKey: string;
  /** The private scalar d (32 bytes). */
  readonly privateKey: string;
}

/**
 * Reads a VAPID private key file as Sygnal (py_vapid) does: a PEM (`EC PRIVATE KEY` or
 * PKCS#8 `PRIVATE KEY`, what `vapid --gen` writes), or base64 of the same DER. Returns
 * undefined or a problem description; the key material itself is never quoted.
 */
export function parseVapidPrivateKey(text: string): { keys: VapidKeys } | { problem: string } {
  let key: KeyObject;
  try {
    key = text.includes('-----BEGIN') ? createPrivateKey(text) : derKey(text.trim());
  } catch {
    return { problem: 'is not an EC private key in PEM (or base64 DER) form; make one with `herald vapid-keys FILE`' };
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    return { problem: `must be an EC P-256 (prime256v1) key, got ${key.asymmetricKeyType ?? 'unknown'} ${key.asymmetricKeyDetails?.namedCurve ?? ''}`.trimEnd() };
  }
  const jwk = key.export({ format: 'jwk' });
  const x = Buffer.from(jwk.x ?? '', 'base64url');
  const y = Buffer.from(jwk.y ?? '', 'base64url');
  return {
    keys: {
      publicKey: Buffer.concat([Buffer.from([0x04]), x, y]).toString('base64url'),
      privateKey: jwk.d ?? '',
    },
  };
}

function derKey(base64: string): KeyObject {
  const der = Buffer.from(base64, 'base64url');
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch {
    return createPrivateKey({ key: der, format: 'der', type: 'sec1' });
  }
}

/**
 * The web-push library, loaded on first use: reading a configuration needs only the key
 * parsing above, and a process without a webpush app never pays the library's memory.
 */
function webPushLibrary(): typeof import('web-push') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a synchronous, on-demand load
  return require('web-push') as typeof import('web-push');
}

/** A new key pair: the private key as a PKCS#8 PEM file (Sygnal's format) and the public key for the web app. */
export function newVapidKeyPair(): { pem: string; publicKey: string } {
  const { publicKey, privateKey } = webPushLibrary().generateVAPIDKeys();
  const point = Buffer.from(publicKey, 'base64url');
  const jwk = {
    kty: 'EC',
    crv: 'P-256',
    d: privateKey,
    x: point.subarray(1, 33).toString('base64url'),
    y: point.subarray(33, 65).toString('base64url'),
  };
  const pem = createPrivateKey({ key: jwk, format: 'jwk' }).export({ type: 'pkcs8', format: 'pem' }).toString();
  return { pem, publicKey };
}

/** How long one signed VAPID JWT is valid; push services accept up to 24 h. */
export const VAPID_JWT_LIFETIME_S = 12 * 60 * 60;
/** A JWT is signed again once it is this old, well before it expires. */
const VAPID_JWT_REUSE_MS = 60 * 60 * 1000;
/** Push service origins remembered; more (odd endpoints) start a fresh cache. */
const VAPID_CACHE_LIMIT = 256;

/**
 * The `Authorization: vapid t=…, k=…` header for each push service origin (the JWT's
 * `aud`). One ES256 signature per origin per hour instead of one per message: push
 * services are few, and signing is the costly half of each send after encryption.
 */
export class VapidSigner {
  private readonly cache = new Map<string, { header: string; signedAt: number }>();

  constructor(
    private readonly keys: VapidKeys,
    /** `mailto:<contact>`: who the push service contacts about our traffic. */
    private readonly subject: string,
    private readonly clock: Clock,
  ) {}

  authorization(origin: string): string {
    const now = this.clock.now();
    const cached = this.cache.get(origin);
    if (cached && now - cached.signedAt < VAPID_JWT_REUSE_MS) return cached.header;
    const expiration = Math.floor(now / 1000) + VAPID_JWT_LIFETIME_S;
    const { Authorization } = webPushLibrary().getVapidHeaders(origin, this.subject, this.keys.publicKey, this.keys.privateKey, 'aes128gcm', expiration);
    if (this.cache.size >= VAPID_CACHE_LIMIT) this.cache.clear();
    this.cache.set(origin, { header: Authorization, signedAt: now });
    return Authorization;
  }
}
