/** URLs (a Web Push endpoint is a capability: whoever knows it can push to the device). */
const URL_PATTERN = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi;

/** An outcome's reason as a span attribute: without URLs, and bounded. */
export function spanReason(reason: string): string {
  return reason.replace(URL_PATTERN, '[url]').slice(0, 300);
}

/**
 * A copy of `value` in which every string has each of `secrets` (and every URL) replaced
 * by `[redacted]`: for error reports, whose messages and stacks may quote what a request carried.
 */
export function redactStrings<T>(value: T, secrets: readonly string[]): T {
  // Longer first, so a secret containing another is replaced whole.
  const ordered = [...new Set(secrets.filter((secret) => secret.length >= 4))].sort((a, b) => b.length - a.length);
  const redact = (text: string): string => {
    let result = text.replace(URL_PATTERN, '[redacted]');
    for (const secret of ordered) result = result.split(secret).join('[redacted]');
    return result;
  };
  const walk = (item: unknown): unknown => {
    if (typeof item === 'string') return redact(item);
    if (Array.isArray(item)) return item.map(walk);
    if (item !== null && typeof item === 'object') {
      return Object.fromEntries(Object.entries(item).map(([key, inner]) => [key, walk(inner)]));
    }
    return item;
  };
  return walk(value) as T;
}

/** Every string in a notify request body (pushkeys, content, names): what an error report must not carry. */
export function stringsOf(value: unknown, found: string[] = []): string[] {
  if (typeof value === 'string') found.push(value);
  else if (Array.isArray(value)) for (const item of value) stringsOf(item, found);
  else if (value !== null && typeof value === 'object') for (const inner of Object.values(value)) stringsOf(inner, found);
  return found;
}
