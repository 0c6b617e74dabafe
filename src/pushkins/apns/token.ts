/**
 * Pushkey → APNs device token. Apple puts the token in the URL path
 * (`/3/device/<hex>`), so whatever this returns must be plain hex: nothing
 * a homeserver sends reaches the path without passing through here.
 *
 * Matrix clients send the token base64-encoded (the spec's recommendation), some send
 * it as hex already. Apple says token lengths may change, and Sygnal's own tests use a
 * 3-byte token, so no length is assumed beyond "not empty".
 */

export type DeviceToken = { readonly ok: true; readonly hex: string } | { readonly ok: false; readonly reason: string };

/** 32 bytes as hex: what iOS hands out today. Used as is even when conversion is on. */
const HEX_TOKEN_64 = /^[0-9a-fA-F]{64}$/;
const HEX = /^(?:[0-9a-fA-F]{2})+$/;
/** Standard or URL-safe alphabet, optional padding. Node's decoder would skip junk silently. */
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

export function deviceToken(pushkey: string, convertToHex: boolean): DeviceToken {
  if (pushkey.length === 0) return { ok: false, reason: 'empty pushkey' };
  // A client that already sends hex must not have it decoded as base64 (64 hex
  // characters are also valid base64, of 48 meaningless bytes).
  if (HEX_TOKEN_64.test(pushkey)) return { ok: true, hex: pushkey.toLowerCase() };

  if (!convertToHex) {
    return HEX.test(pushkey)
      ? { ok: true, hex: pushkey.toLowerCase() }
      : { ok: false, reason: 'not a hex device token (convert_device_token_to_hex is off)' };
  }

  if (!BASE64.test(pushkey)) return { ok: false, reason: 'not valid base64' };
  // BASE64 allows '=' only at the end, at most two of them.
  const padding = pushkey.endsWith('==') ? 2 : pushkey.endsWith('=') ? 1 : 0;
  // Padding, when present, must complete a 4-character group; one leftover
  // character can never encode a byte.
  if ((padding > 0 && pushkey.length % 4 !== 0) || (pushkey.length - padding) % 4 === 1) {
    return { ok: false, reason: 'not valid base64 (bad length or padding)' };
  }
  // Node's base64 decoder reads the URL-safe alphabet too: no copy with '-' and '_' swapped.
  const bytes = Buffer.from(pushkey, 'base64');
  if (bytes.length === 0) return { ok: false, reason: 'decodes to an empty token' };
  return { ok: true, hex: bytes.toString('hex') };
}
