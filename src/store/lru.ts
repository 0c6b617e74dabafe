/**
 * A set of keys, each forgotten after `ttlMs` or when more than `maxEntries` are held
 * (least recently added first). A Map keeps insertion order, so the oldest is first.
 * Expiry times are kept as whole seconds since the set was made, rounded up (a key lives
 * at least `ttlMs`, at most a second longer): small integers, which V8 stores inline,
 * where epoch milliseconds would each be a heap allocation.
 */
export class ExpiringSet {
  private readonly expiries = new Map<string, number>();
  private readonly originMs: number;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {
    this.originMs = now();
  }

  get size(): number {
    return this.expiries.size;
  }

  private elapsedMs(): number {
    return this.now() - this.originMs;
  }

  has(key: string): boolean {
    const expiry = this.expiries.get(key);
    if (expiry === undefined) return false;
    if (expiry * 1000 <= this.elapsedMs()) {
      this.expiries.delete(key);
      return false;
    }
    return true;
  }

  add(key: string): void {
    // Re-inserting moves the key to the young end.
    this.expiries.delete(key);
    this.expiries.set(key, Math.ceil((this.elapsedMs() + this.ttlMs) / 1000));
    if (this.expiries.size > this.maxEntries) {
      this.expiries.delete(this.expiries.keys().next().value as string);
    }
  }

  clear(): void {
    this.expiries.clear();
  }
}
