import { setMaxListeners } from 'node:events';
import type { AppMetrics, Metrics } from '../metrics/metrics';
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
    /** For level checks: per-device loggers are only made when a line is written. */
    private readonly log: Logger,
  ) {}

  /** `requestLog` makes the request's logger; it is called only if something is logged. */
  async dispatch(notification: Notification, requestLog: () => Logger): Promise<DeviceResult[]> {
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
        notification.devices.map((device) =>
          this.dispatchDevice(notification, new DeviceContext(requestLog, device, deadline, controller.signal), deadlinePassed),
        ),
      );
    } finally {
      clearTimeout(timer);
    }
  }

  private async dispatchDevice(notification: Notification, ctx: DeviceContext, deadlinePassed: DeadlineTimer): Promise<DeviceResult> {
    const { device } = ctx;
    const route = this.router.route(device.app_id);
    if (route.kind !== 'found') {
      this.metrics.unroutable.labels(route.kind).inc();
      const detail = route.kind === 'ambiguous' ? `matches several apps: ${route.matches.join(', ')}` : 'matches no configured app';
      ctx.log.warn(`rejecting pushkey: app_id ${detail}`);
      return { device, outcome: { kind: 'rejected', reason: `app_id ${detail}` } };
    }
    const pushkin = route.target;
    const app = pushkin.name;
    const appMetrics = this.metrics.forApp(app, pushkin.type);
    appMetrics.routed.inc();

    if (await this.store.isRejected(app, device.pushkey)) {
      appMetrics.rejectedFromMemory.inc();
      ctx.log.info('rejecting pushkey found dead by an earlier request');
      return this.record(appMetrics, app, device, { kind: 'rejected', reason: 'found dead by an earlier request' });
    }

    const eventId = notification.event_id;
    // Badge-only pushes carry no event_id: count updates are idempotent and never de-duplicated.
    if (eventId === undefined) {
      return this.record(appMetrics, app, device, await this.send(pushkin, appMetrics, notification, ctx, deadlinePassed));
    }

    const key = `${eventId}\u0000${app}\u0000${device.pushkey}`;
    if (!this.inProgress.has(key) && (await this.store.wasDelivered(eventId, app, device.pushkey))) {
      appMetrics.deduplicated.inc();
      if (this.log.isLevelEnabled('debug')) ctx.log.debug('event already delivered to this device; not notifying it twice');
      return { device, app, outcome: { kind: 'delivered' } };
    }
    // Looked up after the store's await: a send may have started meanwhile.
    const running = this.inProgress.get(key);
    if (running) {
      appMetrics.deduplicated.inc();
      if (this.log.isLevelEnabled('debug')) ctx.log.debug('event being sent to this device by another request; waiting for that send');
      return { device, app, outcome: await running };
    }
    const sending = this.send(pushkin, appMetrics, notification, ctx, deadlinePassed);
    this.inProgress.set(key, sending);
    try {
      const outcome = await sending;
      if (outcome.kind === 'delivered') await this.store.rememberDelivered(eventId, app, device.pushkey);
      return this.record(appMetrics, app, device, outcome);
    } finally {
      this.inProgress.delete(key);
    }
  }

  private async send(
    pushkin: Pushkin,
    appMetrics: AppMetrics,
    notification: Notification,
    ctx: DeviceContext,
    deadlinePassed: DeadlineTimer,
  ): Promise<DispatchOutcome> {
    try {
      const outcome = await Promise.race([pushkin.dispatch(notification, ctx.device, ctx), deadlinePassed]);
      if (outcome !== DEADLINE_PASSED) return outcome;
      appMetrics.deadlineExceeded.inc();
      ctx.log.warn({ deadline_ms: this.deadlineMs }, 'no outcome within the notify deadline; the homeserver will retry');
      return { kind: 'retry', reason: `no outcome within the ${this.deadlineMs} ms notify deadline` };
    } catch (err) {
      ctx.log.error({ err }, 'pushkin failed unexpectedly');
      return { kind: 'failed', reason: 'internal error in the pushkin' };
    }
  }

  private async record(appMetrics: AppMetrics, app: string, device: Device, outcome: DispatchOutcome): Promise<DeviceResult> {
    appMetrics.outcome(outcome.kind).inc();
    if (outcome.kind === 'rejected') await this.store.rememberRejected(app, device.pushkey);
    return { device, app, outcome };
  }
}

/**
 * A device's dispatch context. Its logger (the request's, plus app_id and the pushkey's
 * hash) is made on first use: hashing and child loggers cost, and most sends log nothing.
 */
class DeviceContext implements DispatchContext {
  private logger?: Logger;

  constructor(
    private readonly requestLog: () => Logger,
    readonly device: Device,
    readonly deadline: number,
    readonly signal: AbortSignal,
  ) {}

  get log(): Logger {
    this.logger ??= this.requestLog().child({ app_id: this.device.app_id, pushkey_hash: redactPushkey(this.device.pushkey) });
    return this.logger;
  }
}
