/**
 * A set of keys, each forgotten after `ttlMs` or when more than `maxEntries` are held
 * (least recently added first). A Map keeps insertion order, so the oldest is first.
 */
export class ExpiringSet {
  private readonly expiries = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.expiries.size;
  }

  has(key: string): boolean {
    const expiry = this.expiries.get(key);
    if (expiry === undefined) return false;
    if (expiry <= this.now()) {
      this.expiries.delete(key);
      return false;
    }
    return true;
  }

  add(key: string): void {
    // Re-inserting moves the key to the young end.
    this.expiries.delete(key);
    this.expiries.set(key, this.now() + this.ttlMs);
    while (this.expiries.size > this.maxEntries) {
      const oldest = this.expiries.keys().next().value as string;
      this.expiries.delete(oldest);
    }
  }

  clear(): void {
    this.expiries.clear();
  }
}
