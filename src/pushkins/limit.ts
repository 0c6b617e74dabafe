import { performance } from 'node:perf_hooks';
import type { Metrics } from '../metrics/metrics';
import type { Device, Notification } from '../notification/types';
import type { DispatchContext, DispatchOutcome, Pushkin } from './pushkin';

export const DEFAULT_INFLIGHT_REQUEST_LIMIT = 512;
/**
 * Devices that may wait for a slot, per app. Generous: at 20 devices per notification
 * it holds 400 notifications beyond the in-flight ones, and a waiting device costs
 * little (a closure; its notification is held by its request anyway).
 */
export const DEFAULT_INFLIGHT_QUEUE_LIMIT = 8192;

/** A device waiting for a slot: `start` hands it the slot, `giveUp` turns it away. */
interface Waiter {
  readonly queuedAt: number;
  /** Resolves the device's wait: true with a slot, false when its deadline passed first. */
  readonly settle: (gotSlot: boolean) => void;
  /** Whether the waiter left the queue (got a slot or gave up); the array entry is then skipped. */
  done: boolean;
  readonly group: Set<Waiter>;
}

/**
 * Caps the devices one app has in flight, to protect the upstream and Herald's memory.
 * Past the cap a device waits for a slot, first come first served, until its request's
 * deadline; only a device still waiting then, or one finding `queueLimit` devices already
 * waiting, is answered `retry` (the homeserver tries again later). A slot freed is handed
 * straight to the oldest waiter, so newcomers never overtake it.
 */
export class InflightLimitedPushkin implements Pushkin {
  private inflight = 0;
  /** Waiters in arrival order from `head`; entries that gave up stay until reached or pruned. */
  private queue: Array<Waiter | undefined> = [];
  private head = 0;
  /** Waiters still waiting (the queue's length without those that gave up). */
  private waiting = 0;
  /**
   * The waiters of each request's abort signal: one abort listener per request rather
   * than one per device, so a notification with many waiting devices costs linear time.
   */
  private readonly bySignal = new WeakMap<AbortSignal, Set<Waiter>>();
  private readonly drops;
  private readonly queued;
  private readonly queueTime;

  constructor(
    private readonly inner: Pushkin,
    private readonly limit: number,
    private readonly queueLimit: number,
    metrics: Metrics,
  ) {
    this.drops = metrics.inflightLimitDrop.labels(inner.name);
    this.queued = metrics.inflightQueuedDevices.labels(inner.name);
    this.queueTime = metrics.inflightQueueTime.labels(inner.name);
    this.queued.set(0);
  }

  get name(): string {
    return this.inner.name;
  }

  get type(): string {
    return this.inner.type;
  }

  async dispatch(notification: Notification, device: Device, ctx: DispatchContext): Promise<DispatchOutcome> {
    if (this.inflight >= this.limit) {
      if (this.waiting >= this.queueLimit) {
        return this.drop(ctx, `inflight_request_limit (${this.limit}) reached and ${this.queueLimit} devices already waiting`);
      }
      if (!(await this.waitForSlot(ctx.signal))) {
        return this.drop(ctx, `inflight_request_limit (${this.limit}) reached; no slot before the deadline`);
      }
    } else {
      this.inflight++;
    }
    try {
      return await this.inner.dispatch(notification, device, ctx);
    } finally {
      this.release();
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private drop(ctx: DispatchContext, reason: string): DispatchOutcome {
    this.drops.inc();
    ctx.log.warn({ limit: this.limit, queue_limit: this.queueLimit }, `${reason}; device not sent`);
    return { kind: 'retry', reason };
  }

  /** Resolves true once a slot is handed over (already counted in `inflight`), false at the deadline. */
  private waitForSlot(signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    let group = this.bySignal.get(signal);
    if (!group) {
      const waiters = new Set<Waiter>();
      group = waiters;
      this.bySignal.set(signal, waiters);
      signal.addEventListener('abort', () => this.giveUp(waiters), { once: true });
    }
    const members = group;
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = { queuedAt: performance.now(), settle: resolve, done: false, group: members };
      members.add(waiter);
      this.queue.push(waiter);
      this.waiting++;
      this.queued.set(this.waiting);
    });
  }

  /** A request's deadline passed: its devices still waiting leave the queue. */
  private giveUp(waiters: Set<Waiter>): void {
    for (const waiter of waiters) this.leave(waiter, false);
    waiters.clear();
    // With the upstream stuck nothing reaches the entries that gave up: drop them here.
    if (this.queue.length - this.head > 2 * this.waiting + 1024) {
      this.queue = this.queue.filter((waiter) => waiter !== undefined && !waiter.done);
      this.head = 0;
    }
  }

  private leave(waiter: Waiter, gotSlot: boolean): void {
    waiter.done = true;
    this.waiting--;
    this.queued.set(this.waiting);
    this.queueTime.observe((performance.now() - waiter.queuedAt) / 1000);
    waiter.settle(gotSlot);
  }

  /** A send finished: its slot goes to the oldest waiter, or is freed. */
  private release(): void {
    while (this.head < this.queue.length) {
      const waiter = this.queue[this.head];
      this.queue[this.head++] = undefined;
      if (waiter === undefined || waiter.done) continue;
      waiter.group.delete(waiter);
      this.leave(waiter, true);
      this.compact();
      return;
    }
    this.compact();
    this.inflight--;
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
