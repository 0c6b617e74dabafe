import assert from 'node:assert/strict';
import { hash } from 'node:crypto';
import { ExpiringSet } from '../../../src/store/lru';
import { deliveryKey } from '../../../src/store/store';

/** A test key: the hash of a name, as the store makes them. */
const k = (name: string): Buffer => hash('sha256', name, 'buffer');

/** A key whose first word (the index's home position) is chosen, to make keys collide. */
function colliding(home: number, n: number): Buffer {
  const key = Buffer.alloc(12);
  key.writeUInt32LE(home, 0);
  key.writeUInt32LE(n, 4);
  return key;
}

describe('store/memory', () => {
  it('forgets keys after their time to live (to the next whole second)', () => {
    let now = 1_000;
    const set = new ExpiringSet(2_000, 10, () => now);
    now += 300;
    set.add(k('a')); // at 0.3 s: kept until 3 s (at least 2 s, rounded up)
    now += 1_999;
    assert.equal(set.has(k('a')), true);
    now += 700;
    assert.equal(set.has(k('a')), true);
    now += 1;
    assert.equal(set.has(k('a')), false);
    assert.equal(set.size, 0);
  });

  it('holds at most maxEntries, dropping the oldest first; adding again makes a key the newest', () => {
    const set = new ExpiringSet(60_000, 3);
    for (const key of ['a', 'b', 'c']) set.add(k(key));
    set.add(k('a')); // now the newest: b is the oldest
    set.add(k('d'));
    assert.deepEqual(['a', 'b', 'c', 'd'].map((name) => set.has(k(name))), [true, false, true, true]);
    set.add(k('e'));
    set.add(k('f'));
    assert.deepEqual(['a', 'c', 'd', 'e', 'f'].map((name) => set.has(k(name))), [false, false, true, true, true]);
    assert.equal(set.size, 3);
  });

  it('stays bounded over many additions', () => {
    const set = new ExpiringSet(60_000, 1000);
    for (let i = 0; i < 50_000; i++) set.add(k(`key-${i % 1500}`));
    assert.ok(set.size <= 1000);
    assert.equal(set.has(k('key-1499')), true);
  });

  it('names a delivery by every part, so no two deliveries share a key', () => {
    const keys = [
      deliveryKey('$e', 'app', 'key'),
      deliveryKey('$e', 'app', 'key2'),
      deliveryKey('$e', 'app2', 'key'),
      deliveryKey('$e2', 'app', 'key'),
      deliveryKey('$e\u0000app', 'key', ''),
    ];
    assert.equal(new Set(keys.map((key) => key.delivery)).size, keys.length);
    assert.ok(keys.every((key) => key.delivery.length === 16 && key.device.length === 16));
    assert.deepEqual(deliveryKey('$e', 'app', 'key'), keys[0], 'stable');
    assert.equal(deliveryKey('$e2', 'app', 'key').device, keys[0]?.device, 'one device, whatever the event');
  });

  it('finds every key after removals in the middle of a probe run', () => {
    let now = 0;
    const set = new ExpiringSet(10_000, 64, () => now);
    // Eight keys with the same home position, then keys homed just after it, all in one run.
    for (let i = 0; i < 8; i++) set.add(colliding(5, i));
    for (let i = 0; i < 4; i++) set.add(colliding(6, 100 + i));
    set.add(colliding(5, 3)); // re-added: its old entry in the middle of the run goes
    now = 5_000;
    for (let i = 0; i < 8; i++) assert.equal(set.has(colliding(5, i)), true, `5/${i}`);
    for (let i = 0; i < 4; i++) assert.equal(set.has(colliding(6, 100 + i)), true, `6/${100 + i}`);
    assert.equal(set.has(colliding(5, 99)), false);
    assert.equal(set.size, 12);
  });

  it('agrees with a plain model over a long random run of additions, look-ups and expiries', () => {
    let seed = 42;
    const random = (n: number) => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return seed % n;
    };
    let now = 0;
    const capacity = 50;
    const ttlMs = 3_000;
    const set = new ExpiringSet(ttlMs, capacity, () => now);
    // The model: key → [addition number, expiry in whole seconds].
    const model = new Map<number, [number, number]>();
    let added = 0;
    // Few distinct homes, so probe runs are long and removals shift entries.
    const key = (n: number) => colliding(n % 7, n);
    for (let step = 0; step < 20_000; step++) {
      const n = random(120);
      if (random(3) === 0) {
        set.add(key(n));
        model.set(n, [added++, Math.ceil((now + ttlMs) / 1000)]);
      } else {
        const entry = model.get(n);
        const expected = entry !== undefined && entry[0] >= added - capacity && entry[1] * 1000 > now;
        assert.equal(set.has(key(n)), expected, `step ${step}, key ${n}`);
      }
      if (random(10) === 0) now += random(700);
    }
  });
});
