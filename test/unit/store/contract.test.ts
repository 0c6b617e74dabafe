import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { Metrics } from '../../../src/metrics/metrics';
import { MemoryStore } from '../../../src/store/memory';
import { RedisStore } from '../../../src/store/redis';
import { deliveryKey, type PushStore } from '../../../src/store/store';
import { createLogger } from '../../../src/util/log';
import { RedisServer } from '../../upstreams/redis-server';

/**
 * The PushStore contract, one table of cases run against every backend. `first` and
 * `second` are two processes' views of one store: the same MemoryStore (it is seen by
 * one process only), two RedisStores on one redis-server.
 */
interface Views {
  readonly first: PushStore;
  readonly second: PushStore;
}

const TTL = { rejectedTtlSeconds: 60, dedupTtlSeconds: 60 };
const HOLD_MS = 60_000;

const CASES: ReadonlyArray<readonly [string, (views: Views) => Promise<void>]> = [
  [
    'remembers a rejection per (app, pushkey), for every process',
    async ({ first, second }) => {
      assert.equal(await second.isRejected('app', 'key'), false);
      await first.rememberRejected('app', 'key');
      assert.equal(await second.isRejected('app', 'key'), true);
      assert.equal(await second.isRejected('other-app', 'key'), false);
      assert.equal(await second.isRejected('app', 'key2'), false);
    },
  ],
  [
    'lets one process claim a delivery; the others find it in flight, then delivered',
    async ({ first, second }) => {
      const key = deliveryKey('$e', 'app', 'key');
      assert.equal(await first.claimDelivery(key, HOLD_MS), 'claimed');
      assert.equal(await second.claimDelivery(key, HOLD_MS), 'in-flight');
      assert.equal(await first.claimDelivery(key, HOLD_MS), 'in-flight', 'the holder itself may not claim twice');
      assert.equal(await second.claimDelivery(deliveryKey('$e', 'app', 'key2'), HOLD_MS), 'claimed', 'another device is another delivery');
      await first.rememberDelivered(key);
      assert.equal(await second.claimDelivery(key, HOLD_MS), 'delivered');
      assert.equal(await first.claimDelivery(key, HOLD_MS), 'delivered');
    },
  ],
  [
    'frees a released claim for the next attempt',
    async ({ first, second }) => {
      const key = deliveryKey('$released', 'app', 'key');
      assert.equal(await first.claimDelivery(key, HOLD_MS), 'claimed');
      await first.releaseDelivery(key);
      assert.equal(await second.claimDelivery(key, HOLD_MS), 'claimed');
    },
  ],
  [
    'lets a claim lapse after its hold time (its holder died mid-send)',
    async ({ first, second }) => {
      const key = deliveryKey('$lapsed', 'app', 'key');
      assert.equal(await first.claimDelivery(key, 1), 'claimed');
      await delay(30);
      assert.equal(await second.claimDelivery(key, HOLD_MS), 'claimed');
    },
  ],
  [
    'answers a claim on a dead pushkey with the rejection, without claiming',
    async ({ first, second }) => {
      const key = deliveryKey('$dead', 'app', 'dead');
      await first.rememberRejected('app', 'dead');
      assert.equal(await second.claimDelivery(key, HOLD_MS), 'rejected');
      assert.equal(await second.claimDelivery(deliveryKey('$dead', 'other-app', 'dead'), HOLD_MS), 'claimed', 'dead for its app only');
      assert.equal(await second.claimDelivery(deliveryKey('$dead', 'app', 'alive'), HOLD_MS), 'claimed');
    },
  ],
  [
    'does not take a delivered device for a dead one',
    async ({ first, second }) => {
      const key = deliveryKey('$apart', 'app', 'alive');
      await first.claimDelivery(key, HOLD_MS);
      await first.rememberDelivered(key);
      assert.equal(await second.isRejected('app', 'alive'), false);
    },
  ],
  [
    'says it is healthy',
    async ({ first, second }) => {
      assert.deepEqual(first.health(), { state: 'ok' });
      assert.deepEqual(second.health(), { state: 'ok' });
    },
  ],
];

describe('store contract', () => {
  describe('MemoryStore', () => {
    for (const [name, run] of CASES) {
      it(name, async () => {
        const store = new MemoryStore({ ...TTL, rejectedMaxEntries: 100, dedupMaxEntries: 100 });
        await store.open();
        await run({ first: store, second: store });
      });
    }
  });

  describe('RedisStore', () => {
    let server: RedisServer;
    let stores: RedisStore[] = [];
    before(async () => {
      server = await RedisServer.start();
    });
    afterEach(async () => {
      for (const store of stores) await store.close();
      stores = [];
    });
    after(async () => {
      await server.stop();
    });

    for (const [name, run] of CASES) {
      it(name, async () => {
        // A fresh prefix per case: the cases share the server.
        const keyPrefix = `contract-${stores.length}-${Math.random().toString(36).slice(2)}:`;
        const make = () => new RedisStore({ url: server.url, keyPrefix, timeoutMs: 2_000, ...TTL, log: createLogger('silent'), errors: new Metrics().storeErrors });
        stores = [make(), make()];
        await Promise.all(stores.map((store) => store.open()));
        await run({ first: stores[0] as RedisStore, second: stores[1] as RedisStore });
      });
    }
  });
});
