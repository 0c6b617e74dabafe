import type { StoreConfig } from '../config/config';
import type { Metrics } from '../metrics/metrics';
import type { Logger } from '../util/log';
import { MemoryStore } from './memory';
import { RedisStore } from './redis';
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
