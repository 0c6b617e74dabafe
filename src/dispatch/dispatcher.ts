import { setMaxListeners } from 'node:events';
import type { Metrics } from '../metrics/metrics';
import type { Device, Notification } from '../notification/types';
import type { DispatchContext, DispatchOutcome, Pushkin } from '../pushkins/pushkin';
import type { PushStore } from '../store/store';
import type { Clock } from '../util/clock';
import type { Logger } from '../util/log';
import { redactPushkey } from '../util/redact';
import type { AppRouter } from './router';

/** What the deadline timer resolves to, told apart from any outcome a pushkin returns. */
const DEADLINE_PASSED: unique symbol = Symbol('deadline passed');
type DeadlineTimer = Promise<typeof DEADLINE_PASSED>;

export interface DeviceResult {
  readonly device: Device;
  /** The `apps` key that served the device, when one did. */
  readonly app?: string;
  readonly outcome: DispatchOutcome;
}

/** Outcomes that let the homeserver stop retrying: the device is done with, one way or the other. */
export function isFinal(outcome: DispatchOutcome): boolean {
  return outcome.kind === 'delivered' || outcome.kind === 'skipped' || outcome.kind === 'rejected';
}

/**
 * Fans a notification out to its devices concurrently and collects one outcome per
 * device. It owns what is common to every platform: routing, remembered rejections,
 * de-duplication of retried events, the per-request deadline, and turning a pushkin's
 * unexpected exception into a `failed` device instead of a lost response.
 */
export class Dispatcher {
  /** Sends in progress per (event, app, pushkey), so a retry arriving mid-send waits for it. */
  private readonly inProgress = new Map<string, Promise<DispatchOutcome>>();

  constructor(
    private readonly router: AppRouter<Pushkin>,
    private readonly store: PushStore,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
    private readonly deadlineMs: number,
  ) {}

  async dispatch(notification: Notification, log: Logger): Promise<DeviceResult[]> {
    const deadline = this.clock.now() + this.deadlineMs;
    const controller = new AbortController();
    // One signal serves every device of the request (and each of their retries' waits).
    setMaxListeners(0, controller.signal);
    let timer: NodeJS.Timeout | undefined;
    const deadlinePassed: DeadlineTimer = new Promise((resolve) => {
      timer = setTimeout(() => {
        controller.abort();
        resolve(DEADLINE_PASSED);
      }, this.deadlineMs);
      timer.unref();
    });
    try {
      return await Promise.all(
        notification.devices.map((device) => this.dispatchDevice(notification, device, log, deadline, controller.signal, deadlinePassed)),
      );
    } finally {
      clearTimeout(timer);
    }
  }

  private async dispatchDevice(
    notification: Notification,
    device: Device,
    requestLog: Logger,
    deadline: number,
    signal: AbortSignal,
    deadlinePassed: DeadlineTimer,
  ): Promise<DeviceResult> {
    const route = this.router.route(device.app_id);
    if (route.kind !== 'found') {
      this.metrics.unroutable.labels(route.kind).inc();
      const detail = route.kind === 'ambiguous' ? `matches several apps: ${route.matches.join(', ')}` : 'matches no configured app';
      requestLog.warn(
        { app_id: device.app_id, pushkey_hash: redactPushkey(device.pushkey) },
        `rejecting pushkey: app_id ${detail}`,
      );
      return { device, outcome: { kind: 'rejected', reason: `app_id ${detail}` } };
    }
    const pushkin = route.target;
    const app = pushkin.name;
    this.metrics.perPushkinType.labels(pushkin.type).inc();
    const log = requestLog.child({ app_id: device.app_id, pushkey_hash: redactPushkey(device.pushkey) });

    if (await this.store.isRejected(app, device.pushkey)) {
      this.metrics.rejectedFromMemory.labels(app).inc();
      log.info('rejecting pushkey found dead by an earlier request');
      return this.record(app, device, { kind: 'rejected', reason: 'found dead by an earlier request' });
    }

    const ctx: DispatchContext = { log, deadline, signal };
    const eventId = notification.event_id;
    // Badge-only pushes carry no event_id: count updates are idempotent and never de-duplicated.
    if (eventId === undefined) {
      return this.record(app, device, await this.send(pushkin, notification, device, ctx, deadlinePassed));
    }

    const key = `${eventId}\u0000${app}\u0000${device.pushkey}`;
    if (!this.inProgress.has(key) && (await this.store.wasDelivered(eventId, app, device.pushkey))) {
      this.metrics.deduplicated.labels(app).inc();
      log.debug('event already delivered to this device; not notifying it twice');
      return { device, app, outcome: { kind: 'delivered' } };
    }
    // Looked up after the store's await: a send may have started meanwhile.
    const running = this.inProgress.get(key);
    if (running) {
      this.metrics.deduplicated.labels(app).inc();
      log.debug('event being sent to this device by another request; waiting for that send');
      return { device, app, outcome: await running };
    }
    const sending = this.send(pushkin, notification, device, ctx, deadlinePassed);
    this.inProgress.set(key, sending);
    try {
      const outcome = await sending;
      if (outcome.kind === 'delivered') await this.store.rememberDelivered(eventId, app, device.pushkey);
      return this.record(app, device, outcome);
    } finally {
      this.inProgress.delete(key);
    }
  }

  private async send(
    pushkin: Pushkin,
    notification: Notification,
    device: Device,
    ctx: DispatchContext,
    deadlinePassed: DeadlineTimer,
  ): Promise<DispatchOutcome> {
    try {
      const outcome = await Promise.race([pushkin.dispatch(notification, device, ctx), deadlinePassed]);
      if (outcome !== DEADLINE_PASSED) return outcome;
      this.metrics.deadlineExceeded.labels(pushkin.name).inc();
      ctx.log.warn({ deadline_ms: this.deadlineMs }, 'no outcome within the notify deadline; the homeserver will retry');
      return { kind: 'retry', reason: `no outcome within the ${this.deadlineMs} ms notify deadline` };
    } catch (err) {
      ctx.log.error({ err }, 'pushkin failed unexpectedly');
      return { kind: 'failed', reason: 'internal error in the pushkin' };
    }
  }

  private async record(app: string, device: Device, outcome: DispatchOutcome): Promise<DeviceResult> {
    this.metrics.outcomes.labels(app, outcome.kind).inc();
    if (outcome.kind === 'rejected') await this.store.rememberRejected(app, device.pushkey);
    return { device, app, outcome };
  }
}
