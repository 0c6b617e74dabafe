import { isPlainObject, type JsonObject } from './payload';

/**
 * Shrinks a payload to APNs' size limit, measured on the UTF-8 JSON actually sent.
 * Sygnal's rule (`sygnal/apnstruncate.py`): while too long, take the longest choppable
 * string — `aps.alert` if it is a string, else `aps.alert.body`, then each string in
 * `aps.alert.loc-args`; ties go to the first — and drop its last code point. Keys,
 * loc-key and everything else are never shortened, and no character is ever split.
 *
 * Re-serialising after every dropped code point would be quadratic on a large body,
 * so the loop keeps each field's cost in the JSON text up to date instead and
 * serialises once at the end.
 */

/** Apple's limit for every push type but VoIP. */
export const MAX_PAYLOAD_BYTES = 4096;
/** Apple's limit for VoIP pushes. */
export const MAX_VOIP_PAYLOAD_BYTES = 5120;

export type TruncateResult =
  | { readonly ok: true; readonly payload: JsonObject; readonly json: string; readonly bytes: number; readonly truncated: boolean }
  /** Nothing choppable is left and the payload is still `bytes` long. */
  | { readonly ok: false; readonly bytes: number };

interface Choppable {
  chars: string[];
  /** UTF-8 length of the string: what "longest" compares. */
  utf8Bytes: number;
  write(value: string): void;
}

export function truncatePayload(payload: JsonObject, maxBytes: number): TruncateResult {
  const json = JSON.stringify(payload);
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes <= maxBytes) return { ok: true, payload, json, bytes, truncated: false };

  const copy = structuredClone(payload);
  const fields = choppables(copy);
  let size = bytes;
  while (size > maxBytes) {
    const longest = pickLongest(fields);
    if (longest === undefined) return { ok: false, bytes: size };
    const dropped = longest.chars.pop() as string;
    longest.utf8Bytes -= Buffer.byteLength(dropped, 'utf8');
    size -= jsonCost(dropped);
  }
  for (const field of fields) field.write(field.chars.join(''));

  const result = JSON.stringify(copy);
  const resultBytes = Buffer.byteLength(result, 'utf8');
  // The running size is exact; this guards against a mistake in jsonCost rather than
  // ever sending more than Apple accepts.
  if (resultBytes > maxBytes) return { ok: false, bytes: resultBytes };
  return { ok: true, payload: copy, json: result, bytes: resultBytes, truncated: true };
}

function choppables(payload: JsonObject): Choppable[] {
  const aps = payload.aps;
  if (!isPlainObject(aps)) return [];
  const fields: Choppable[] = [];
  const alert = aps.alert;
  if (typeof alert === 'string') {
    fields.push(field(alert, (value) => (aps.alert = value)));
  } else if (isPlainObject(alert)) {
    if (typeof alert.body === 'string') fields.push(field(alert.body, (value) => (alert.body = value)));
    const args = alert['loc-args'];
    if (Array.isArray(args)) {
      args.forEach((arg: unknown, index) => {
        if (typeof arg === 'string') fields.push(field(arg, (value) => (args[index] = value)));
      });
    }
  }
  return fields;
}

function field(value: string, write: (value: string) => void): Choppable {
  return { chars: Array.from(value), utf8Bytes: Buffer.byteLength(value, 'utf8'), write };
}

/** The longest non-empty field; the first one wins a tie. */
function pickLongest(fields: readonly Choppable[]): Choppable | undefined {
  let best: Choppable | undefined;
  for (const candidate of fields) {
    if (candidate.chars.length > 0 && (best === undefined || candidate.utf8Bytes > best.utf8Bytes)) best = candidate;
  }
  return best;
}

/** Bytes one code point takes inside a JSON string as JSON.stringify writes it. */
export function jsonCost(char: string): number {
  const code = char.codePointAt(0) as number;
  if (char === '"' || char === '\\') return 2;
  if (code < 0x20) return '\b\f\n\r\t'.includes(char) ? 2 : 6;
  // A lone surrogate is written as a \uXXXX escape (well-formed JSON.stringify).
  if (code >= 0xd800 && code <= 0xdfff) return 6;
  return Buffer.byteLength(char, 'utf8');
}
