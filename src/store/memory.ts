import { hash } from 'node:crypto';
import { ExpiringSet } from './lru';
import type { DeliveryClaim, PushStore, StoreHealth } from './store';

export interface MemoryStoreOptions {
  readonly rejectedTtlSeconds: number;
  readonly rejectedMaxEntries: number;
  readonly dedupTtlSeconds: number;
  readonly dedupMaxEntries: number;
  readonly now?: () => number;
}

/** Keys join their parts with NUL, which cannot occur in JSON-decoded identifiers we accept. */
const SEP = '\u0000';
const HEALTHY: StoreHealth = { state: 'ok' };

/**
 * The first 96 bits of the text's SHA-256, the form both sets keep (about 24 bytes per
 * entry whatever the pushkey's length). A collision (chance about n²/2⁹⁷ among n
 * remembered keys) would reject one pushkey.
 */
function key96(text: string): Buffer {
  return hash('sha256', text, 'buffer');
}

/** A delivery key (see deliveryKey) is 96 bits of a hash already, in base64: its bytes are the set's key. */
function deliveryBytes(key: string): Buffer {
  return Buffer.from(key, 'base64');
}

/** The in-process store: bounded memory, forgotten on restart, seen by this process only. */
export class MemoryStore implements PushStore {
  private readonly rejected: ExpiringSet;
  private readonly delivered: ExpiringSet;
  /** Claims held, by delivery key: when each lapses. Deliveries in flight only, so small. */
  private readonly claims = new Map<string, number>();
  private readonly now: () => number;

  constructor(options: MemoryStoreOptions) {
    this.now = options.now ?? Date.now;
    this.rejected = new ExpiringSet(options.rejectedTtlSeconds * 1000, options.rejectedMaxEntries, this.now);
    this.delivered = new ExpiringSet(options.dedupTtlSeconds * 1000, options.dedupMaxEntries, this.now);
  }

  async open(): Promise<void> {}

  async isRejected(appId: string, pushkey: string): Promise<boolean> {
    return this.rejected.has(key96(appId + SEP + pushkey));
  }

  async rememberRejected(appId: string, pushkey: string): Promise<void> {
    this.rejected.add(key96(appId + SEP + pushkey));
  }

  async claimDelivery(key: string, holdMs: number): Promise<DeliveryClaim> {
    if (this.delivered.has(deliveryBytes(key))) return 'delivered';
    const now = this.now();
    const lapses = this.claims.get(key);
    if (lapses !== undefined && lapses > now) return 'in-flight';
    this.claims.set(key, now + holdMs);
    return 'claimed';
  }

  async rememberDelivered(key: string): Promise<void> {
    this.delivered.add(deliveryBytes(key));
    this.claims.delete(key);
  }

  async releaseDelivery(key: string): Promise<void> {
    this.claims.delete(key);
  }

  health(): StoreHealth {
    return HEALTHY;
  }

  async close(): Promise<void> {
    this.rejected.clear();
    this.delivered.clear();
    this.claims.clear();
  }
}
