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

/** The store for the "herald is ready" line: its type, and where (the URL without its password; the nodes). */
export function describeStore(config: StoreConfig): string {
  const redis = config.redis;
  if (!redis) return 'memory';
  const nodes = (list: ReadonlyArray<{ host: string; port: number }>) => list.map(({ host, port }) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`)).join(',');
  const where =
    'sentinel' in redis
      ? `sentinel ${redis.sentinel.name} at ${nodes(redis.sentinel.nodes)}`
      : 'cluster' in redis
        ? `cluster at ${nodes(redis.cluster.nodes)}`
        : redactRedisUrl(redis.url);
  return `redis ${where} (key prefix ${JSON.stringify(redis.keyPrefix)})`;
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
