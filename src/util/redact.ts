import { createHash } from 'node:crypto';

/**
 * What a log line may say about a pushkey: never the key itself, only a short hash an
 * operator can recompute from a known key (`herald hash-pushkey`) to find its lines.
 */
export function redactPushkey(pushkey: string): string {
  return `pk#${createHash('sha256').update(pushkey).digest('hex').slice(0, 12)}`;
}
