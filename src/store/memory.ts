import { ExpiringSet } from './lru';
import { rejectionKey, type DeliveryClaim, type DeliveryKey, type PushStore, type StoreHealth } from './store';

export interface MemoryStoreOptions {
  readonly rejectedTtlSeconds: number;
  readonly rejectedMaxEntries: number;
  readonly dedupTtlSeconds: number;
  readonly dedupMaxEntries: number;
  readonly now?: () => number;
}

const HEALTHY: StoreHealth = { state: 'ok' };

/** A store key (deliveryKey, rejectionKey) is 96 bits of a hash already, in base64: its bytes are the set's key. */
function keyBytes(key: string): Buffer {
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
    // The usual case: nothing remembered, so no key to hash.
    return this.rejected.size > 0 && this.rejected.has(keyBytes(rejectionKey(appId, pushkey)));
  }

  async rememberRejected(appId: string, pushkey: string): Promise<void> {
    this.rejected.add(keyBytes(rejectionKey(appId, pushkey)));
  }

  async claimDelivery({ device, delivery }: DeliveryKey, holdMs: number): Promise<DeliveryClaim> {
    if (this.rejected.size > 0 && this.rejected.has(keyBytes(device))) return 'rejected';
    if (this.delivered.has(keyBytes(delivery))) return 'delivered';
    const now = this.now();
    const lapses = this.claims.get(delivery);
    if (lapses !== undefined && lapses > now) return 'in-flight';
    this.claims.set(delivery, now + holdMs);
    return 'claimed';
  }

  async rememberDelivered({ delivery }: DeliveryKey): Promise<void> {
    this.delivered.add(keyBytes(delivery));
    this.claims.delete(delivery);
  }

  async releaseDelivery({ delivery }: DeliveryKey): Promise<void> {
    this.claims.delete(delivery);
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
