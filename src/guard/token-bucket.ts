/** A token bucket's shape: `burst` tokens at most, refilled at `perSecond`. */
export interface BucketLimit {
  readonly perSecond: number;
  readonly burst: number;
}

export type TakeResult = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * Token buckets by key (a caller's address, an app_id and pushkey), one token per
 * request. Pure: the time is passed in. At most `maxKeys` buckets are kept so that junk
 * keys cannot grow memory without bound: full buckets are forgotten first (a full bucket
 * is the same as a new one), then the oldest.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly limit: BucketLimit,
    private readonly maxKeys: number,
  ) {}

  /** The tokens `key` would have at `nowMs`. */
  private level(bucket: Bucket | undefined, nowMs: number): number {
    if (bucket === undefined) return this.limit.burst;
    const refilled = (Math.max(0, nowMs - bucket.updatedMs) / 1000) * this.limit.perSecond;
    return Math.min(this.limit.burst, bucket.tokens + refilled);
  }

  /** Whether every key has a token at `nowMs`; when not, how long until all do. Takes nothing. */
  check(keys: readonly string[], nowMs: number): TakeResult {
    let waitMs = 0;
    for (const key of keys) {
      const missing = 1 - this.level(this.buckets.get(key), nowMs);
      if (missing > 0) waitMs = Math.max(waitMs, Math.ceil((missing / this.limit.perSecond) * 1000));
    }
    return waitMs > 0 ? { ok: false, retryAfterMs: waitMs } : { ok: true };
  }

  /** Takes one token from each key when all have one (all or nothing). */
  take(keys: readonly string[], nowMs: number): TakeResult {
    const result = this.check(keys, nowMs);
    if (!result.ok) return result;
    for (const key of keys) {
      const bucket = this.buckets.get(key);
      const tokens = this.level(bucket, nowMs) - 1;
      if (bucket !== undefined) {
        bucket.tokens = tokens;
        bucket.updatedMs = nowMs;
      } else {
        this.makeRoom(nowMs);
        this.buckets.set(key, { tokens, updatedMs: nowMs });
      }
    }
    return result;
  }

  get size(): number {
    return this.buckets.size;
  }

  /**
   * At capacity: forgets every full bucket, and when that frees less than a tenth of the
   * room, the oldest buckets up to a tenth. Each sweep frees many places, so its cost
   * is shared by the insertions that follow.
   */
  private makeRoom(nowMs: number): void {
    if (this.buckets.size < this.maxKeys) return;
    for (const [key, bucket] of this.buckets) {
      if (this.level(bucket, nowMs) >= this.limit.burst) this.buckets.delete(key);
    }
    const target = this.maxKeys - Math.max(1, Math.floor(this.maxKeys / 10));
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= target) break;
      this.buckets.delete(key);
    }
  }
}
