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
 * Caps the devices one app has in flight, to protect the upstream and Herald's memory.
 * Past the cap a device waits for a slot, first come first served, until its request's
 * deadline; only a device still waiting then, or one finding `queueLimit` devices already
 * waiting, is answered `retry` (the homeserver tries again later). A slot freed is handed
 * straight to the oldest waiter, so newcomers never overtake it.
 */
export class InflightLimitedPushkin implements Pushkin {
  private readonly slots: SlotQueue;
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
    this.slots = new SlotQueue(limit, queueLimit);
  }

  get name(): string {
    return this.inner.name;
  }

  get type(): string {
    return this.inner.type;
  }

  async dispatch(notification: Notification, device: Device, ctx: DispatchContext): Promise<DispatchOutcome> {
    if (!this.slots.tryAcquire()) {
      const wait = this.slots.acquire(ctx.signal);
      this.queued.set(this.slots.waiting);
      const { outcome, queued, waitedMs } = await wait;
      if (queued) {
        this.queued.set(this.slots.waiting);
        this.queueTime.observe(waitedMs / 1000);
        ctx.trace?.queued(waitedMs);
      }
      if (outcome === 'full') {
        return this.drop(ctx, `inflight_request_limit (${this.limit}) reached and ${this.queueLimit} devices already waiting`);
      }
      if (outcome !== 'granted') {
        return this.drop(ctx, `inflight_request_limit (${this.limit}) reached; no slot before the deadline`);
      }
    }
    try {
      return await this.inner.dispatch(notification, device, ctx);
    } finally {
      this.slots.release();
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
}
