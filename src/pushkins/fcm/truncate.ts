/** Sygnal's per-field limit: longer values are cut to at most 1021 bytes plus `…`. */
export const MAX_FIELD_BYTES = 1024;
const ELLIPSIS = '…';
export const ELLIPSIS_BYTES = 3;

/** Sygnal's per-field rule: over 1024 bytes → at most 1021 bytes and `…`. */
export function capField(value: string): string {
  return Buffer.byteLength(value) > MAX_FIELD_BYTES ? truncateWithEllipsis(value, MAX_FIELD_BYTES) : value;
}

/** `value` if it fits in `maxBytes`, else its longest prefix that fits with `…` after it. */
export function truncateWithEllipsis(value: string, maxBytes: number): string {
  if (Buffer.byteLength(value) <= maxBytes) return value;
  return truncateUtf8(value, Math.max(0, maxBytes - ELLIPSIS_BYTES)) + ELLIPSIS;
}

/** The longest prefix of `value` whose UTF-8 encoding fits in `maxBytes`, never splitting a character. */
export function truncateUtf8(value: string, maxBytes: number): string {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length <= maxBytes) return value;
  let end = maxBytes;
  // Step back over continuation bytes (10xxxxxx) to the start of the character being cut.
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}
