import assert from 'node:assert/strict';
import { TokenBuckets } from '../../../src/guard/token-bucket';

describe('guard/token-bucket', () => {
  it('allows a burst, then refuses with the time until the next token', () => {
    const buckets = new TokenBuckets({ perSecond: 2, burst: 3 }, 100);
    for (let i = 0; i < 3; i++) assert.deepEqual(buckets.take(['a'], 0), { ok: true });
    assert.deepEqual(buckets.take(['a'], 0), { ok: false, retryAfterMs: 500 });
    assert.deepEqual(buckets.take(['a'], 200), { ok: false, retryAfterMs: 300 });
    assert.deepEqual(buckets.take(['a'], 500), { ok: true });
  });

  it('refills at the rate, up to the burst and no further', () => {
    const buckets = new TokenBuckets({ perSecond: 1, burst: 2 }, 100);
    buckets.take(['a'], 0);
    buckets.take(['a'], 0);
    // An hour later the bucket holds 2, not 3600.
    for (let i = 0; i < 2; i++) assert.equal(buckets.take(['a'], 3_600_000).ok, true);
    assert.equal(buckets.take(['a'], 3_600_000).ok, false);
  });

  it('keeps keys apart', () => {
    const buckets = new TokenBuckets({ perSecond: 1, burst: 1 }, 100);
    assert.equal(buckets.take(['a'], 0).ok, true);
    assert.equal(buckets.take(['b'], 0).ok, true);
    assert.equal(buckets.take(['a'], 0).ok, false);
  });

  it('takes from several keys all or nothing', () => {
    const buckets = new TokenBuckets({ perSecond: 1, burst: 1 }, 100);
    assert.equal(buckets.take(['b'], 0).ok, true);
    assert.deepEqual(buckets.take(['a', 'b'], 0), { ok: false, retryAfterMs: 1000 });
    // 'a' kept its token.
    assert.equal(buckets.take(['a'], 0).ok, true);
  });

  it('check() tells without taking', () => {
    const buckets = new TokenBuckets({ perSecond: 1, burst: 1 }, 100);
    assert.equal(buckets.check(['a'], 0).ok, true);
    assert.equal(buckets.check(['a'], 0).ok, true);
    assert.equal(buckets.take(['a'], 0).ok, true);
    assert.equal(buckets.check(['a'], 0).ok, false);
  });

  it("a homeserver retrying one pushkey from 1 s apart is never limited by a burst of 1 at 1/s", () => {
    const buckets = new TokenBuckets({ perSecond: 1, burst: 1 }, 100);
    let now = 0;
    for (const backoffMs of [1_000, 2_000, 4_000, 8_000, 16_000]) {
      assert.equal(buckets.take(['pushkey'], now).ok, true);
      now += backoffMs;
    }
  });

  it('holds at most maxKeys buckets, forgetting full ones first, then the oldest', () => {
    const buckets = new TokenBuckets({ perSecond: 1, burst: 2 }, 10);
    for (let i = 0; i < 10; i++) buckets.take([`k${i}`], 0);
    assert.equal(buckets.size, 10);
    // Two seconds later every bucket is full again: all are forgotten to make room.
    buckets.take(['new'], 2_000);
    assert.equal(buckets.size, 1);
    for (let i = 0; i < 10_000; i++) buckets.take([`junk${i}`], 2_000);
    assert.ok(buckets.size <= 10);
    // The newest keys are kept: the last one still has its token taken.
    assert.deepEqual(buckets.check(['junk9999'], 2_000), { ok: true });
    buckets.take(['junk9999'], 2_000);
    assert.equal(buckets.check(['junk9999'], 2_000).ok, false);
  });
});
