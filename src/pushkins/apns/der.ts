/**
 * Just enough DER to read a certificate's extension OIDs: Node's X509Certificate does
 * not list custom extensions such as Apple's push environment markers.
 */

/** The extension OIDs of a DER certificate: Certificate → tbsCertificate → [3] extensions → extnID. */
export function extensionOids(der: Buffer): string[] {
  const certificate = readTlv(der, 0);
  const tbs = childrenOf(der, certificate)[0];
  if (tbs === undefined) return [];
  const explicit = childrenOf(der, tbs).find((tlv) => tlv.tag === 0xa3);
  if (explicit === undefined) return [];
  const list = childrenOf(der, explicit)[0];
  if (list === undefined) return [];
  return childrenOf(der, list).flatMap((extension) => {
    const id = childrenOf(der, extension)[0];
    return id?.tag === 0x06 ? [decodeOid(der.subarray(id.start, id.end))] : [];
  });
}

interface Tlv {
  readonly tag: number;
  /** Where the contents start and end. */
  readonly start: number;
  readonly end: number;
}

function readTlv(der: Buffer, offset: number): Tlv {
  if (offset + 2 > der.length) throw new Error('truncated DER');
  const tag = der[offset] as number;
  let length = der[offset + 1] as number;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || start + count > der.length) throw new Error('unsupported DER length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[start++] as number);
  }
  if (start + length > der.length) throw new Error('truncated DER');
  return { tag, start, end: start + length };
}

function childrenOf(der: Buffer, parent: Tlv): Tlv[] {
  const children: Tlv[] = [];
  for (let offset = parent.start; offset < parent.end; ) {
    const child = readTlv(der, offset);
    children.push(child);
    offset = child.end;
  }
  return children;
}

function decodeOid(bytes: Buffer): string {
  const parts: number[] = [];
  let value = 0;
  for (const byte of bytes) {
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      parts.push(value);
      value = 0;
    }
  }
  const first = parts.shift() ?? 0;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...parts].join('.');
}
