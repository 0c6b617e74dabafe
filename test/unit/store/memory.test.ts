import assert from 'node:assert/strict';
import { ExpiringSet } from '../../../src/store/lru';
import { deliveryKey } from '../../../src/store/store';

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

  it('holds at most maxEntries, dropping the oldest first; adding again makes a key the newest', () => {
    const set = new ExpiringSet(60_000, 3);
    for (const key of ['a', 'b', 'c']) set.add(key);
    set.add('a'); // now the newest: b is the oldest
    set.add('d');
    assert.deepEqual(['a', 'b', 'c', 'd'].map((k) => set.has(k)), [true, false, true, true]);
    set.add('e');
    set.add('f');
    assert.deepEqual(['a', 'c', 'd', 'e', 'f'].map((k) => set.has(k)), [false, false, true, true, true]);
    assert.equal(set.size, 3);
  });

  it('stays bounded over many additions', () => {
    const set = new ExpiringSet(60_000, 1000);
    for (let i = 0; i < 50_000; i++) set.add(`key-${i % 1500}`);
    assert.ok(set.size <= 1000);
    assert.equal(set.has('key-1499'), true);
  });

  it('names a delivery by every part, so no two deliveries share a key', () => {
    const keys = [
      deliveryKey('$e', 'app', 'key'),
      deliveryKey('$e', 'app', 'key2'),
      deliveryKey('$e', 'app2', 'key'),
      deliveryKey('$e2', 'app', 'key'),
      deliveryKey('$e\u0000app', 'key', ''),
    ];
    assert.equal(new Set(keys).size, keys.length);
    assert.ok(keys.every((key) => key.length === 16));
    assert.equal(deliveryKey('$e', 'app', 'key'), keys[0], 'stable');
  });
});
