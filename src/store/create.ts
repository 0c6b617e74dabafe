import type { StoreConfig } from '../config/config';
import type { Metrics } from '../metrics/metrics';
import type { Logger } from '../util/log';
import { MemoryStore } from './memory';
import { RedisStore, redactRedisUrl } from './redis';
import type { PushStore } from './store';

/** The store `store.type` names. */
export function createStore(config: StoreConfig, env: { log: Logger; metrics: Metrics }): PushStore {
  if (config.redis) {
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
