import type { Metrics } from '../metrics/metrics';
import type { Device, Notification } from '../notification/types';
import { SlotQueue } from '../util/slot-queue';
import type { DispatchContext, DispatchOutcome, Pushkin } from './pushkin';

export const DEFAULT_INFLIGHT_REQUEST_LIMIT = 512;
/**
 * Devices that may wait for a slot, per app. Generous: at 20 devices per notification
 * it holds 400 notifications beyond the in-flight ones, and a waiting device costs
 * little (a closure; its notification is held by its request anyway).
 */
export const DEFAULT_INFLIGHT_QUEUE_LIMIT = 8192;

/**
 * The one queue in front of an app's sends. Caps the devices one app has in flight, to
 * protect the upstream and Herald's memory: `inflight_request_limit`, or fewer when the
 * pushkin's connections carry fewer sends at once (`Pushkin.sends`), so that no send waits
 * again in a connection pool. Past the cap a device waits for a slot, first come first
 * served, until its request's deadline; only a device still waiting then, or one finding
 * `queueLimit` devices already waiting, is answered `retry` (the homeserver tries again
 * later). A slot freed is handed straight to the oldest waiter, so newcomers never overtake it.
 */
export class InflightLimitedPushkin implements Pushkin {
  private readonly slots: SlotQueue;
  private readonly drops;
  private readonly queued;
  private readonly queueTime;
  /** What caps the sends in flight, for the log line of a device turned away. */
  private readonly cap: string;
  private readonly limit: number;

  constructor(
    private readonly inner: Pushkin,
    limit: number,
    private readonly queueLimit: number,
    metrics: Metrics,
  ) {
    this.drops = metrics.inflightLimitDrop.labels(inner.name);
    this.queued = metrics.inflightQueuedDevices.labels(inner.name);
    this.queueTime = metrics.inflightQueueTime.labels(inner.name);
    this.queued.set(0);
    const connections = inner.sends?.capacity ?? Infinity;
    this.cap = connections < limit ? `its connections' capacity (${connections} sends)` : `inflight_request_limit (${limit})`;
    this.limit = Math.min(limit, connections);
    this.slots = new SlotQueue(this.limit, queueLimit);
  }

  get name(): string {
    return this.inner.name;
  }

  get type(): string {
    return this.inner.type;
  }

  async dispatch(notification: Notification, device: Device, ctx: DispatchContext): Promise<DispatchOutcome> {
    const sends = this.inner.sends;
    if (!this.slots.tryAcquire()) {
      const wait = this.slots.acquire(ctx.signal);
      this.queued.set(this.slots.waiting);
      sends?.pending.inc();
      const { outcome, queued, waitedMs } = await wait;
      sends?.pending.dec();
      if (queued) {
        this.queued.set(this.slots.waiting);
        this.queueTime.observe(waitedMs / 1000);
        ctx.trace?.queued(waitedMs);
      }
      if (outcome === 'full') return this.drop(ctx, `${this.cap} reached and ${this.queueLimit} devices already waiting`);
      if (outcome !== 'granted') return this.drop(ctx, `${this.cap} reached; no slot before the deadline`);
      sends?.queueTime.observe(waitedMs / 1000);
    } else {
      sends?.queueTime.observe(0);
    }
    try {
      return await this.inner.dispatch(notification, device, ctx);
    } finally {
      this.slots.release();
    }
  }

  /** Turns the devices still waiting away, then closes the pushkin. */
  close(): Promise<void> {
    this.slots.close();
    return this.inner.close();
  }

  private drop(ctx: DispatchContext, reason: string): DispatchOutcome {
    this.drops.inc();
    ctx.log.warn({ limit: this.limit, queue_limit: this.queueLimit }, `${reason}; device not sent`);
    return { kind: 'retry', reason };
  }
}
