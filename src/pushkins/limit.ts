import type { Metrics } from '../metrics/metrics';
import type { Device, Notification } from '../notification/types';
import type { DispatchContext, DispatchOutcome, Pushkin } from './pushkin';

export const DEFAULT_INFLIGHT_REQUEST_LIMIT = 512;

/**
 * Caps the devices one app has in flight. Past the cap a device fails fast with `retry`
 * (the homeserver tries again later) instead of queueing, so one slow upstream cannot
 * hold every request and starve the other apps.
 */
export class InflightLimitedPushkin implements Pushkin {
  private inflight = 0;

  constructor(
    private readonly inner: Pushkin,
    private readonly limit: number,
    private readonly metrics: Metrics,
  ) {}

  get name(): string {
    return this.inner.name;
  }

  get type(): string {
    return this.inner.type;
  }

  async dispatch(notification: Notification, device: Device, ctx: DispatchContext): Promise<DispatchOutcome> {
    if (this.inflight >= this.limit) {
      this.metrics.inflightLimitDrop.labels(this.name).inc();
      ctx.log.warn({ limit: this.limit }, 'inflight_request_limit reached; device not sent');
      return { kind: 'retry', reason: `inflight_request_limit (${this.limit}) reached` };
    }
    this.inflight++;
    try {
      return await this.inner.dispatch(notification, device, ctx);
    } finally {
      this.inflight--;
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
