import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { Metrics } from '../../../src/metrics/metrics';
import { redactRedisUrl } from '../../../src/store/create';
import { RedisStore, type RedisStoreOptions } from '../../../src/store/redis';
import { deliveryKey, rejectionKey } from '../../../src/store/store';
import { createLogger } from '../../../src/util/log';
import { CapturedLogs } from '../../helpers/gateway';
import { RedisServer } from '../../upstreams/redis-server';

const HOLD_MS = 60_000;

describe('store/redis', () => {
  let server: RedisServer;
  const stores: RedisStore[] = [];

  before(async () => {
    server = await RedisServer.start({ password: 'p@ss word/secret' });
  });
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
  });
  after(async () => {
    await server.stop();
  });

  function make(options: Partial<RedisStoreOptions> = {}): { store: RedisStore; logs: CapturedLogs; metrics: Metrics } {
    const logs = new CapturedLogs();
    const metrics = new Metrics();
    const store = new RedisStore({
      url: server.url,
      keyPrefix: 'herald-test:',
      timeoutMs: 2_000,
      rejectedTtlSeconds: 600,
      dedupTtlSeconds: 3_600,
      log: createLogger('info', logs.stream()),
      errors: metrics.storeErrors,
      ...options,
    });
    stores.push(store);
    return { store, logs, metrics };
  }

  async function errors(metrics: Metrics, operation: string): Promise<number> {
    return (await metrics.storeErrors.get()).values.find((v) => v.labels.operation === operation)?.value ?? 0;
  }

  it('connects with the password in the URL, keeps its keys under the prefix, with their expiry', async () => {
    const { store } = make();
    await store.open();
    const key = deliveryKey('$ttl', 'app', 'key');
    assert.equal(await store.claimDelivery(key, HOLD_MS), 'claimed');
    await store.rememberRejected('app', 'dead');
    const redis = await server.client();
    // One hash tag per device (Cluster-safe scripts): the device's rejection and its deliveries.
    const deliveryName = `herald-test:{${key.device}}d:${key.delivery}`;
    try {
      const claimTtl = await redis.pTTL(deliveryName);
      assert.ok(claimTtl > 0 && claimTtl <= HOLD_MS, `claim expires within its hold time: ${claimTtl}`);
      await store.rememberDelivered(key);
      assert.equal(await redis.get(deliveryName), 'd');
      const deliveredTtl = await redis.ttl(deliveryName);
      assert.ok(deliveredTtl > 3_500 && deliveredTtl <= 3_600, `delivered marker expires after the de-dup window: ${deliveredTtl}`);
      const rejectedTtl = await redis.ttl(`herald-test:{${rejectionKey('app', 'dead')}}r`);
      assert.ok(rejectedTtl > 500 && rejectedTtl <= 600, `rejection expires after its window: ${rejectedTtl}`);
      assert.deepEqual((await redis.keys('*')).filter((k) => !k.startsWith('herald-test:')), []);
    } finally {
      redis.destroy();
    }
  });

  it('takes one command before a send and one after it, loading its script again when the server lost it', async () => {
    const { store, metrics } = make();
    await store.open();
    const redis = await server.client();
    /** Calls of the commands a store uses since the last CONFIG RESETSTAT, from INFO commandstats. */
    const calls = async () =>
      Object.fromEntries(
        [...(await redis.info('commandstats')).matchAll(/^cmdstat_(evalsha|eval|set|get|exists|del):calls=(\d+)/gm)].map((m) => [m[1], Number(m[2])]),
      );
    try {
      await redis.scriptFlush();
      await redis.configResetStat();
      const first = deliveryKey('$one-trip', 'app', 'key');
      assert.equal(await store.claimDelivery(first, HOLD_MS), 'claimed');
      // The script's own EXISTS and SET count too; the client sent EVALSHA (NOSCRIPT), then EVAL.
      assert.deepEqual(await calls(), { evalsha: 1, eval: 1, exists: 1, set: 1 });
      await store.rememberDelivered(first);
      assert.deepEqual(await calls(), { evalsha: 1, eval: 1, exists: 1, set: 2 }, 'the delivered marker: one SET');
      assert.equal(await store.claimDelivery(deliveryKey('$two-trips', 'app', 'key'), HOLD_MS), 'claimed');
      assert.deepEqual(await calls(), { evalsha: 2, eval: 1, exists: 2, set: 3 }, 'the script loaded now: EVALSHA alone');
      assert.equal(await errors(metrics, 'claim_delivery'), 0);
    } finally {
      redis.destroy();
    }
  });

  it('releases only a claim it still holds', async () => {
    const { store: first } = make();
    const { store: second } = make();
    await Promise.all([first.open(), second.open()]);
    const key = deliveryKey('$own', 'app', 'key');
    assert.equal(await first.claimDelivery(key, 1), 'claimed');
    await delay(30);
    assert.equal(await second.claimDelivery(key, HOLD_MS), 'claimed', 'the first claim lapsed');
    await first.releaseDelivery(key);
    assert.equal(await first.claimDelivery(key, HOLD_MS), 'in-flight', "the second process's claim stands");
  });

  it('never logs the password, and names no pushkey in its keys', async () => {
    assert.equal(redactRedisUrl('rediss://user:s3cret@redis.example.org:6380/2'), 'rediss://***:***@redis.example.org:6380/2');
    assert.equal(redactRedisUrl('redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379');
    assert.equal(rejectionKey('app', 'a-very-long-web-push-endpoint'.repeat(20)).length, 16);
    const { store, logs } = make({ url: `redis://:wrong-password@127.0.0.1:${server.port}` });
    // Not awaited: with a wrong password it gives up waiting only after several seconds.
    void store.open();
    await until(() => logs.lines.length > 0);
    assert.equal(store.health().state, 'degraded');
    assert.equal(await store.isRejected('app', 'key'), false);
    assert.doesNotMatch(logs.raw, /wrong-password|p@ss/);
  });

  it('answers within its timeout when Redis stops answering, and counts it', async () => {
    // The skip after a timeout runs on this clock; the timeout itself on the real one.
    let now = 0;
    const { store, metrics, logs } = make({ timeoutMs: 100, clock: { now: () => now } });
    await store.open();
    const key = deliveryKey('$slow', 'app', 'key');
    server.pause();
    try {
      // Fall-backs that keep notifications flowing: not rejected, free to send.
      assert.equal(await store.isRejected('app', 'key'), false);
      assert.match((store.health() as { reason: string }).reason, /no answer within 100 ms/);
      // The next calls skip the frozen Redis at once.
      assert.equal(await store.claimDelivery(key, HOLD_MS), 'claimed');
      await store.rememberDelivered(key);
      assert.equal(store.health().state, 'degraded');
      assert.equal(await errors(metrics, 'is_rejected'), 1);
      assert.equal(await errors(metrics, 'claim_delivery'), 1);
      assert.equal(await errors(metrics, 'remember_delivered'), 1);
      assert.equal(logs.lines.filter((line) => line.level === 40).length, 1, 'logged at a bounded rate');
    } finally {
      server.resume();
    }
    // Redis answers again, but calls skip it until a second after the timeout…
    now = 999;
    assert.equal(await store.isRejected('app', 'key'), false);
    assert.equal(await errors(metrics, 'is_rejected'), 2);
    assert.equal(store.health().state, 'degraded');
    // …then the next one reaches it, and the store is healthy again.
    now = 1_000;
    assert.equal(await store.isRejected('app', 'key'), false);
    assert.equal(await errors(metrics, 'is_rejected'), 2);
    assert.deepEqual(store.health(), { state: 'ok' });
  });

  it('goes on without Redis while it is down and reconnects by itself when it is back', async () => {
    const { store, metrics, logs } = make();
    await store.open();
    await store.rememberRejected('app', 'dead');
    await server.stop();
    try {
      assert.equal(await store.isRejected('app', 'dead'), false, 'unknown while down: delivered rather than lost');
      assert.equal(await store.claimDelivery(deliveryKey('$down', 'app', 'key'), HOLD_MS), 'claimed');
      assert.equal(store.health().state, 'degraded');
      assert.ok((await errors(metrics, 'is_rejected')) >= 1);
    } finally {
      await server.start();
    }
    await until(() => store.health().state === 'ok');
    assert.equal(await store.claimDelivery(deliveryKey('$back', 'app', 'key'), HOLD_MS), 'claimed');
    assert.ok(logs.messages().includes('store reachable again'));
  });
});

/** Polls `condition` until it holds (bounded, so a broken store fails the test instead of hanging it). */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; !condition(); i++) {
    if (i > 1_000) assert.fail('condition never held');
    await delay(10);
  }
}
