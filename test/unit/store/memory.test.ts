import assert from 'node:assert/strict';
import { ExpiringSet } from '../../../src/store/lru';
import { MemoryStore } from '../../../src/store/memory';

describe('store/memory', () => {
  it('forgets keys after their time to live (to the next whole second)', () => {
    let now = 1_000;
    const set = new ExpiringSet(2_000, 10, () => now);
    now += 300;
    set.add('a'); // at 0.3 s: kept until 3 s (at least 2 s, rounded up)
    now += 1_999;
    assert.equal(set.has('a'), true);
    now += 700;
    assert.equal(set.has('a'), true);
    now += 1;
    assert.equal(set.has('a'), false);
    assert.equal(set.size, 0);
  });

  it('holds at most maxEntries, dropping the oldest first', () => {
    const set = new ExpiringSet(60_000, 3);
    for (const key of ['a', 'b', 'c']) set.add(key);
    set.add('a'); // refreshed: now the youngest
    set.add('d');
    assert.deepEqual(['a', 'b', 'c', 'd'].map((k) => set.has(k)), [true, false, true, true]);
    assert.equal(set.size, 3);
  });

  it('keeps rejections and deliveries apart, keyed by every part', async () => {
    const store = new MemoryStore({ rejectedTtlSeconds: 60, rejectedMaxEntries: 10, dedupTtlSeconds: 60, dedupMaxEntries: 10 });
    await store.rememberRejected('app', 'key');
    assert.equal(await store.isRejected('app', 'key'), true);
    assert.equal(await store.isRejected('other-app', 'key'), false);
    assert.equal(await store.wasDelivered('$e', 'app', 'key'), false);
    await store.rememberDelivered('$e', 'app', 'key');
    assert.equal(await store.wasDelivered('$e', 'app', 'key'), true);
    assert.equal(await store.wasDelivered('$e', 'app', 'key2'), false);
    // A separator inside an id cannot make two different triples collide.
    assert.equal(await store.wasDelivered('$e\u0000app', 'key', ''), false);
  });
});
