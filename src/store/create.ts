import type { StoreConfig } from '../config/config';
import type { Metrics } from '../metrics/metrics';
import type { Logger } from '../util/log';
import { MemoryStore } from './memory';
import type { PushStore } from './store';

/**
 * The store `store.type` names. The Redis client is loaded only for a Redis store: it
 * takes longer to load than the rest of Herald's start-up.
 */
export async function createStore(config: StoreConfig, env: { log: Logger; metrics: Metrics }): Promise<PushStore> {
  if (config.redis) {
    const { RedisStore } = await import('./redis.js');
    return new RedisStore({
      ...config.redis,
      rejectedTtlSeconds: config.rejectedTtlSeconds,
      dedupTtlSeconds: config.dedupTtlSeconds,
      log: env.log.child({ store: 'redis' }),
      errors: env.metrics.storeErrors,
    });
  }
  return new MemoryStore(config);
}

/** The store for the "herald is ready" line: its type, and where (the URL without its password). */
export function describeStore(config: StoreConfig): string {
  return config.redis ? `redis ${redactRedisUrl(config.redis.url)} (key prefix ${JSON.stringify(config.redis.keyPrefix)})` : 'memory';
}

/** The URL with its password (and user name) replaced, for logs. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    if (parsed.username) parsed.username = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
