/**
 * A set of keys, each forgotten after `ttlMs` or once `maxEntries` newer additions have
 * been made (oldest first; adding a key again makes it the newest).
 *
 * The age order lives in a ring of the last `maxEntries` additions beside a Map from
 * each key to its latest addition's number: evicting the oldest is then O(1). (Taking
 * the first key of a Map instead gets slower as deletions pile up at its front, which V8
 * only compacts on rehash: it was the most expensive line of the notify path.) Expiry
 * times are whole seconds since the set was made, rounded up (a key lives at least
 * `ttlMs`, at most a second longer).
 */
export class ExpiringSet {
  /** Key → number of its latest addition; that addition's ring slot is `number % capacity`. */
  private readonly additions = new Map<string, number>();
  private readonly ringKeys: Array<string | undefined>;
  private readonly ringExpiries: Float64Array;
  private added = 0;
  private readonly originMs: number;

  constructor(
    private readonly ttlMs: number,
    private readonly capacity: number,
    private readonly now: () => number = Date.now,
  ) {
    this.originMs = now();
    this.ringKeys = new Array<string | undefined>(capacity);
    this.ringExpiries = new Float64Array(capacity);
  }

  get size(): number {
    return this.additions.size;
  }

  has(key: string): boolean {
    // The usual case for remembered rejections: nothing to look up.
    if (this.additions.size === 0) return false;
    const addition = this.additions.get(key);
    if (addition === undefined) return false;
    if ((this.ringExpiries[addition % this.capacity] ?? 0) * 1000 <= this.now() - this.originMs) {
      this.additions.delete(key);
      return false;
    }
    return true;
  }

  add(key: string): void {
    const addition = this.added++;
    const slot = addition % this.capacity;
    const oldest = this.ringKeys[slot];
    // The slot's previous key goes, unless it was added again since.
    if (oldest !== undefined && this.additions.get(oldest) === addition - this.capacity) this.additions.delete(oldest);
    this.ringKeys[slot] = key;
    this.ringExpiries[slot] = Math.ceil((this.now() - this.originMs + this.ttlMs) / 1000);
    this.additions.set(key, addition);
  }

  clear(): void {
    this.additions.clear();
    this.ringKeys.fill(undefined);
  }
}
