import { Metrics } from '../src/metrics/metrics';
import { RedisStore } from '../src/store/redis';
import { deliveryKey } from '../src/store/store';
import { createLogger } from '../src/util/log';
import { RedisServer } from '../test/upstreams/redis-server';

/**
 * `node dist/bench/redis-memory.js [entries]`: Redis memory per remembered item, for
 * sizing (docs/operator-guide.md). Stores `entries` (default 100,000) rejections, then as
 * many delivered markers, through Herald's own RedisStore into a fresh redis-server, and
 * reads `used_memory` from INFO memory before and after each.
 */
const BATCH = 1_000;

/** used_memory from the text of INFO memory. */
function usedMemory(info: string): number {
  const match = /^used_memory:(\d+)/m.exec(info);
  if (!match) throw new Error('INFO memory has no used_memory');
  return Number(match[1]);
}

async function main(): Promise<void> {
  const entries = Number(process.argv[2] ?? 100_000);
  if (!Number.isInteger(entries) || entries < BATCH) throw new Error(`entries must be a whole number ≥ ${BATCH}`);
  // Stopped (and its temp dir removed) when this process exits, however it exits.
  const redis = await RedisServer.start();
  const store = new RedisStore({
    url: redis.url,
    keyPrefix: 'herald:',
    timeoutMs: 10_000,
    rejectedTtlSeconds: 86_400,
    dedupTtlSeconds: 86_400,
    log: createLogger('warn'),
    errors: new Metrics().storeErrors,
  });
  await store.open();
  const client = await redis.client();
  // A pushkey as long as a typical FCM registration token (the stored key is a hash of it).
  const pushkey = (i: number) => `fcm-token-${i}-`.padEnd(163, 'x');
  const kinds: Array<[string, (i: number) => Promise<unknown>]> = [
    ['remembered rejection (r:)', (i) => store.rememberRejected('com.example.app', pushkey(i))],
    [
      'delivered marker (d:)',
      async (i) => {
        const key = deliveryKey(`$event${i}:example.org`, 'com.example.app', pushkey(i));
        await store.claimDelivery(key, 60_000);
        await store.rememberDelivered(key);
      },
    ],
  ];
  console.log(`redis-server ${(await client.info('server')).match(/redis_version:(\S+)/)?.[1] ?? '?'}, ${entries} entries of each kind`);
  for (const [name, remember] of kinds) {
    const before = usedMemory(await client.info('memory'));
    for (let i = 0; i < entries; i += BATCH) {
      await Promise.all(Array.from({ length: BATCH }, (_, j) => remember(i + j)));
    }
    const after = usedMemory(await client.info('memory'));
    console.log(`${name}: ${((after - before) / entries).toFixed(1)} bytes per entry (used_memory ${before} → ${after})`);
  }
  const health = store.health();
  if (health.state !== 'ok') throw new Error(`the store failed during the run: ${health.reason}`);
  client.destroy();
  await store.close();
  await redis.stop();
}

main().catch((err: unknown) => {
  console.error(`redis-memory: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
