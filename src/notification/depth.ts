/**
 * How deeply nested JSON from a request may be before Herald does anything recursive
 * with it (structuredClone, JSON.stringify, payload truncation). Real payloads nest a few
 * levels (`aps.alert.loc-args`); 5,000 levels overflow V8's stack in those functions.
 */
export const MAX_JSON_DEPTH = 32;

/**
 * Whether `value` nests objects or arrays more than `limit` levels deep: a scalar is
 * depth 0, `{}` and `[]` depth 1, `{"a": []}` depth 2. Iterative (it must not itself
 * overflow the stack) and it stops at the first path past the limit.
 */
export function deeperThan(value: unknown, limit: number): boolean {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    if (typeof item.value !== 'object' || item.value === null) continue;
    const depth = item.depth + 1;
    if (depth > limit) return true;
    const children: unknown[] = Array.isArray(item.value) ? item.value : Object.values(item.value);
    for (const child of children) {
      if (typeof child === 'object' && child !== null) stack.push({ value: child, depth });
    }
  }
  return false;
}

/**
 * `record` without the entries whose values nest more than `limit` levels; `dropped`
 * names those left out. The record itself is returned when nothing is dropped.
 */
export function entriesWithinDepth(
  record: Readonly<Record<string, unknown>>,
  limit: number,
): { kept: Readonly<Record<string, unknown>>; dropped: string[] } {
  const dropped = Object.keys(record).filter((key) => deeperThan(record[key], limit));
  if (dropped.length === 0) return { kept: record, dropped };
  // fromEntries defines keys, so a "__proto__" key from JSON stays a plain key.
  return { kept: Object.fromEntries(Object.entries(record).filter(([key]) => !dropped.includes(key))), dropped };
}
