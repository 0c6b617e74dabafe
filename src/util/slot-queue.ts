import { performance } from 'node:perf_hooks';

/** How a wait for a slot ended. Only `granted` hands the caller a slot, which it must `release`. */
export interface SlotWait {
  readonly outcome: 'granted' | 'aborted' | 'full' | 'closed';
  /** Whether the caller stood in the queue (false: a slot was free, or it never joined). */
  readonly queued: boolean;
  /** Time spent in the queue, in milliseconds; 0 when it did not queue. */
  readonly waitedMs: number;
}

const GRANTED_AT_ONCE: SlotWait = Object.freeze({ outcome: 'granted', queued: false, waitedMs: 0 });
const ABORTED_AT_ONCE: SlotWait = Object.freeze({ outcome: 'aborted', queued: false, waitedMs: 0 });
const FULL: SlotWait = Object.freeze({ outcome: 'full', queued: false, waitedMs: 0 });

interface Waiter {
  readonly queuedAt: number;
  readonly settle: (wait: SlotWait) => void;
  /** Whether the waiter left the queue; its array entry is then skipped when reached. */
  done: boolean;
  /** The waiters sharing this waiter's abort signal. */
  readonly group: Set<Waiter>;
}

/**
 * A counting semaphore whose waiters are served first come, first served and give up
 * when their request's AbortSignal aborts. One abort listener per signal, not per
 * waiter, and waiters that gave up are skipped when reached rather than searched for,
 * so a request with many waiting callers costs linear time. A slot released passes
 * straight to the oldest waiter, so newcomers never overtake it.
 */
export class SlotQueue {
  private inUse = 0;
  /** Waiters in arrival order from `head`; entries that gave up stay until reached or pruned. */
  private queue: Array<Waiter | undefined> = [];
  private head = 0;
  private waitingCount = 0;
  private readonly bySignal = new WeakMap<AbortSignal, Set<Waiter>>();

  /**
   * @param capacity slots that may be held at once
   * @param queueLimit callers that may wait at once; past it `acquire` answers `full`
   */
  constructor(
    private readonly capacity: number,
    private readonly queueLimit = Infinity,
  ) {}

  /** Callers waiting for a slot (those that gave up not counted). */
  get waiting(): number {
    return this.waitingCount;
  }

  /** Takes a free slot if there is one; never waits. */
  tryAcquire(): boolean {
    if (this.inUse >= this.capacity) return false;
    this.inUse++;
    return true;
  }

  /** Takes a free slot, or waits for one until `signal` aborts or the queue is closed. Never rejects. */
  acquire(signal: AbortSignal): Promise<SlotWait> {
    if (signal.aborted) return Promise.resolve(ABORTED_AT_ONCE);
    if (this.tryAcquire()) return Promise.resolve(GRANTED_AT_ONCE);
    if (this.waitingCount >= this.queueLimit) return Promise.resolve(FULL);
    let group = this.bySignal.get(signal);
    if (!group) {
      const waiters = new Set<Waiter>();
      group = waiters;
      this.bySignal.set(signal, waiters);
      signal.addEventListener('abort', () => this.giveUp(waiters), { once: true });
    }
    const members = group;
    return new Promise<SlotWait>((resolve) => {
      const waiter: Waiter = { queuedAt: performance.now(), settle: resolve, done: false, group: members };
      members.add(waiter);
      this.queue.push(waiter);
      this.waitingCount++;
    });
  }

  /** Gives a slot back: it goes to the oldest waiter, or is freed. */
  release(): void {
    while (this.head < this.queue.length) {
      const waiter = this.queue[this.head];
      this.queue[this.head++] = undefined;
      if (waiter === undefined || waiter.done) continue;
      // The slot passes straight on, so inUse stays the same.
      waiter.group.delete(waiter);
      this.leave(waiter, 'granted');
      this.compact();
      return;
    }
    this.compact();
    this.inUse--;
  }

  /** Turns every caller still waiting away with `closed`; slots held stay held until released. */
  close(): void {
    for (let i = this.head; i < this.queue.length; i++) {
      const waiter = this.queue[i];
      if (waiter === undefined || waiter.done) continue;
      waiter.group.delete(waiter);
      this.leave(waiter, 'closed');
    }
    this.queue = [];
    this.head = 0;
  }

  /** A request's signal aborted: its callers still waiting leave the queue. */
  private giveUp(waiters: Set<Waiter>): void {
    for (const waiter of waiters) this.leave(waiter, 'aborted');
    waiters.clear();
    // With every slot stuck nothing reaches the entries that gave up: drop them here.
    if (this.queue.length - this.head > 2 * this.waitingCount + 1024) {
      this.queue = this.queue.filter((waiter) => waiter !== undefined && !waiter.done);
      this.head = 0;
    }
  }

  private leave(waiter: Waiter, outcome: SlotWait['outcome']): void {
    waiter.done = true;
    this.waitingCount--;
    waiter.settle({ outcome, queued: true, waitedMs: performance.now() - waiter.queuedAt });
  }

  /** Drops the queue's consumed front once it is most of the array, so the array does not grow for ever. */
  private compact(): void {
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
