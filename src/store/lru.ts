/**
 * A set of 96-bit keys, each forgotten after `ttlMs` or once `capacity` newer additions
 * have been made (oldest first; adding a key again makes it the newest).
 *
 * Everything lives in typed arrays allocated once, about 24 bytes per entry, outside the
 * garbage-collected heap's object graph: a Map of strings cost about 1 KB per entry.
 *  - A ring of the last `capacity` additions: addition n sits in slot n % capacity, as
 *    the key's three 32-bit words and its expiry (whole seconds since the set was made,
 *    rounded up: a key lives at least `ttlMs`, at most a second longer). Evicting the
 *    oldest is overwriting its slot.
 *  - An open-addressing index (linear probing, at most half full) from a key to its
 *    ring slot, stored as slot + 1 so that 0, the fresh array's value, means empty.
 *    Removal shifts the following entries back instead of leaving tombstones, so look-ups
 *    never slow down as keys come and go.
 * Keys are hashes already, so their first word spreads them over the index as it is.
 */
export class ExpiringSet {
  /** Per ring slot: key words 0–2 and the expiry; an expiry of 0 marks a free slot. */
  private readonly ring: Uint32Array;
  private readonly index: Uint32Array;
  private readonly mask: number;
  private added = 0;
  private count = 0;
  private readonly originMs: number;

  constructor(
    private readonly ttlMs: number,
    private readonly capacity: number,
    private readonly now: () => number = Date.now,
  ) {
    this.originMs = now();
    this.ring = new Uint32Array(capacity * 4);
    let size = 2;
    while (size < capacity * 2) size *= 2;
    this.index = new Uint32Array(size);
    this.mask = size - 1;
  }

  get size(): number {
    return this.count;
  }

  /** Whether `key` (12 bytes or more; the first 12 are used) was added and has not expired. */
  has(key: Uint8Array): boolean {
    const [k0, k1, k2] = words(key);
    const position = this.find(k0, k1, k2);
    if (position < 0) return false;
    const slot = this.index[position] - 1;
    if (this.ring[slot * 4 + 3] * 1000 <= this.now() - this.originMs) {
      this.removeAt(position);
      this.ring[slot * 4 + 3] = 0;
      return false;
    }
    return true;
  }

  add(key: Uint8Array): void {
    const [k0, k1, k2] = words(key);
    const existing = this.find(k0, k1, k2);
    if (existing >= 0) {
      this.ring[(this.index[existing] - 1) * 4 + 3] = 0;
      this.removeAt(existing);
    }
    const slot = this.added++ % this.capacity;
    const base = slot * 4;
    // The slot's previous key, the oldest, goes.
    if (this.ring[base + 3] !== 0) this.removeAt(this.find(this.ring[base], this.ring[base + 1], this.ring[base + 2]));
    this.ring[base] = k0;
    this.ring[base + 1] = k1;
    this.ring[base + 2] = k2;
    this.ring[base + 3] = Math.max(1, Math.ceil((this.now() - this.originMs + this.ttlMs) / 1000));
    let position = k0 & this.mask;
    while (this.index[position] !== 0) position = (position + 1) & this.mask;
    this.index[position] = slot + 1;
    this.count++;
  }

  clear(): void {
    this.ring.fill(0);
    this.index.fill(0);
    this.count = 0;
  }

  /** The index position holding the key, or -1. */
  private find(k0: number, k1: number, k2: number): number {
    let position = k0 & this.mask;
    for (;;) {
      const entry = this.index[position];
      if (entry === 0) return -1;
      const base = (entry - 1) * 4;
      if (this.ring[base] === k0 && this.ring[base + 1] === k1 && this.ring[base + 2] === k2) return position;
      position = (position + 1) & this.mask;
    }
  }

  /** Empties an index position, moving later entries of the probe run back into the hole. */
  private removeAt(position: number): void {
    let hole = position;
    let next = (hole + 1) & this.mask;
    for (;;) {
      const entry = this.index[next];
      if (entry === 0) break;
      const home = this.ring[(entry - 1) * 4] & this.mask;
      // An entry may fill the hole unless its home lies cyclically in (hole, next].
      if (((next - home) & this.mask) >= ((next - hole) & this.mask)) {
        this.index[hole] = entry;
        hole = next;
      }
      next = (next + 1) & this.mask;
    }
    this.index[hole] = 0;
    this.count--;
  }
}

/** The key's first three little-endian 32-bit words. */
function words(key: Uint8Array): [number, number, number] {
  if (key.length < 12) throw new RangeError('an ExpiringSet key has at least 12 bytes');
  return [
    (key[0] | (key[1] << 8) | (key[2] << 16) | (key[3] << 24)) >>> 0,
    (key[4] | (key[5] << 8) | (key[6] << 16) | (key[7] << 24)) >>> 0,
    (key[8] | (key[9] << 8) | (key[10] << 16) | (key[11] << 24)) >>> 0,
  ];
}
