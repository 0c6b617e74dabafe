import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

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

/** A new key pair: the private key as a PKCS#8 PEM file (Sygnal's format) and the public key for the web app. */
export function newVapidKeyPair(): { pem: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const { x = '', y = '' } = publicKey.export({ format: 'jwk' });
  // The application server key the Push API takes: the uncompressed point (RFC 8292, section 3.2).
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(x, 'base64url'), Buffer.from(y, 'base64url')]);
  return { pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKey: point.toString('base64url') };
}
