import type { Clock } from '../../util/clock';
import type { ConnectRefusal } from './reasons';

/** Hosts remembered at most; more (junk endpoints) drop the oldest. */
const HOST_LIMIT = 10_000;

export type Remembered =
  | { readonly kind: 'refused'; readonly refusal: ConnectRefusal; readonly reason: string }
  | { readonly kind: 'unavailable'; readonly reason: string; readonly retryAfterMs: number };

interface Entry {
  readonly until: number;
  readonly refused?: { readonly refusal: ConnectRefusal; readonly reason: string };
  readonly reason: string;
}

/**
 * Distributor hosts that refused a connection (for `refusedMs`) or were temporarily
 * unavailable (for `unavailableMs`, or their Retry-After if shorter), as common-proxies
 * remembers them: a dead distributor host then costs no connection attempt per
 * notification. Endpoints that answered 404/410 are remembered by the dispatcher's store,
 * per pushkey, as for every pushkin.
 */
export class HostMemory {
  private readonly hosts = new Map<string, Entry>();

  constructor(
    private readonly clock: Clock,
    private readonly refusedMs: number,
    private readonly unavailableMs: number,
  ) {}

  recall(host: string): Remembered | undefined {
    const entry = this.hosts.get(host);
    if (entry === undefined) return undefined;
    const left = entry.until - this.clock.now();
    if (left <= 0) {
      this.hosts.delete(host);
      return undefined;
    }
    return entry.refused ? { kind: 'refused', ...entry.refused } : { kind: 'unavailable', reason: entry.reason, retryAfterMs: left };
  }

  refused(host: string, refusal: ConnectRefusal, reason: string): void {
    this.remember(host, this.refusedMs, { refused: { refusal, reason }, reason });
  }

  unavailable(host: string, reason: string, retryAfterMs: number | undefined): void {
    this.remember(host, Math.min(this.unavailableMs, retryAfterMs ?? Infinity), { reason });
  }

  /** The host answered: whatever was remembered of it is over. */
  forget(host: string): void {
    this.hosts.delete(host);
  }

  private remember(host: string, forMs: number, entry: Omit<Entry, 'until'>): void {
    if (forMs <= 0) return;
    this.hosts.delete(host);
    if (this.hosts.size >= HOST_LIMIT) this.hosts.delete(this.hosts.keys().next().value as string);
    this.hosts.set(host, { ...entry, until: this.clock.now() + forMs });
  }
}
