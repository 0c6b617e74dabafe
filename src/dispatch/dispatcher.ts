import { setMaxListeners } from 'node:events';
import type { AppMetrics, Metrics } from '../metrics/metrics';
import type { Device, Notification } from '../notification/types';
import type { DeviceTrace, ErrorReporter, NotifyTrace } from '../observability/hooks';
import { stringsOf } from '../observability/scrub';
import type { DispatchContext, DispatchOutcome, Pushkin } from '../pushkins/pushkin';
import { deliveryKey, type DeliveryKey, type PushStore } from '../store/store';
import type { Clock } from '../util/clock';
import type { Logger } from '../util/log';
import { redactPushkey } from '../util/redact';
import type { AppRouter, UnknownAppIdPolicy } from './router';

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
  /** Deliveries being handled, by delivery key, so a retry arriving meanwhile waits for the outcome. */
  private readonly inProgress = new Map<string, Claim>();
  /** Requests not answered yet: each entry answers its devices still waiting, with a reason. */
  private readonly unanswered = new Set<(reason: string) => void>();

  constructor(
    private readonly router: AppRouter<Pushkin>,
    private readonly store: PushStore,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
    private readonly deadlineMs: number,
    /** For level checks: per-device loggers are only made when a line is written. */
    private readonly log: Logger,
    private readonly unknownAppId: UnknownAppIdPolicy = 'reject',
    /** Present when error reports are on: a pushkin or the dispatch failing unexpectedly is a bug. */
    private readonly errors?: ErrorReporter,
  ) {}

  /**
   * One result per device, in order, by the deadline at the latest: a device still
   * without an outcome then is answered `retry` (its send goes on, and is remembered if
   * it succeeds, so the homeserver's retry is de-duplicated). `requestLog` makes the
   * request's logger; it is called only if something is logged. `trace`, when the request
   * is traced, gets one child span per device.
   */
  dispatch(notification: Notification, requestLog: () => Logger, trace?: NotifyTrace): Promise<DeviceResult[]> {
    const devices = notification.devices;
    if (devices.length === 0) return Promise.resolve([]);
    const scope = new RequestScope(this.clock.now() + this.deadlineMs, requestLog);
    const contexts = devices.map((device) => new DeviceContext(scope, device, trace?.device(device)));
    return new Promise((resolve) => {
      const results: Array<DeviceResult | undefined> = new Array(devices.length);
      let waiting = devices.length;
      let settled = false;
      const answerNow = (reason: string, deadlinePassed = false) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.unanswered.delete(answerNow);
        scope.abort();
        resolve(contexts.map((ctx, i) => results[i] ?? this.unfinished(ctx, reason, deadlinePassed)));
      };
      const timer = setTimeout(() => answerNow(`no outcome within the ${this.deadlineMs} ms notify deadline`, true), this.deadlineMs);
      this.unanswered.add(answerNow);
      contexts.forEach((ctx, i) => {
        const done = (result: DeviceResult) => {
          if (settled) return;
          results[i] = result;
          ctx.trace?.end(result);
          if (--waiting === 0) {
            settled = true;
            clearTimeout(timer);
            this.unanswered.delete(answerNow);
            resolve(results as DeviceResult[]);
          }
        };
        this.dispatchDevice(notification, ctx).then(done, (err: unknown) => {
          ctx.log.error({ err }, 'dispatching the device failed unexpectedly');
          this.reportBug(err, notification, ctx);
          done({ device: ctx.device, outcome: { kind: 'failed', reason: 'internal error' } });
        });
      });
    });
  }

  private async dispatchDevice(notification: Notification, ctx: DeviceContext): Promise<DeviceResult> {
    const { device } = ctx;
    const route = this.router.route(device.app_id);
    if (route.kind !== 'found') {
      this.metrics.unroutable.labels(route.kind).inc();
      const detail = route.kind === 'ambiguous' ? `matches several apps: ${route.matches.join(', ')}` : 'matches no configured app';
      // Several globs: Herald's configuration is at fault, never the pusher (whatever unknown_app_id says).
      if (route.kind === 'ambiguous') {
        ctx.log.error(`app_id ${detail}: answering 502 so the homeserver keeps the pusher and retries; fix apps`);
        return { device, outcome: { kind: 'misconfigured', reason: `app_id ${detail}` } };
      }
      if (this.unknownAppId === 'retry') {
        ctx.log.error(`app_id ${detail}: answering 502 so the homeserver keeps the pusher and retries (unknown_app_id: retry); fix apps`);
        return { device, outcome: { kind: 'misconfigured', reason: `app_id ${detail} (unknown_app_id: retry)` } };
      }
      ctx.log.warn(`rejecting pushkey: app_id ${detail}`);
      return { device, outcome: { kind: 'rejected', reason: `app_id ${detail}` } };
    }
    const pushkin = route.target;
    const app = pushkin.name;
    ctx.trace?.routed(app, pushkin.type);
    const appMetrics = this.metrics.forApp(app);
    appMetrics.routed.inc();

    if (device.unsendable !== undefined) {
      ctx.log.warn(`rejecting pushkey: ${device.unsendable}`);
      return this.record(appMetrics, app, device, { kind: 'rejected', reason: device.unsendable });
    }
    const eventId = notification.event_id;
    // Badge-only pushes carry no event_id: count updates are idempotent and never de-duplicated.
    if (eventId === undefined) {
      if (await this.store.isRejected(app, device.pushkey)) return this.rejectedFromMemory(appMetrics, app, ctx);
      return this.record(appMetrics, app, device, await this.send(pushkin, notification, ctx));
    }

    const key = deliveryKey(eventId, app, device.pushkey);
    const running = this.inProgress.get(key.delivery);
    if (running) {
      appMetrics.deduplicated.inc();
      if (this.log.isLevelEnabled('debug')) ctx.log.debug('event being handled for this device by another request; waiting for it');
      const outcome = await new Promise<DispatchOutcome>((resolve) => (running.waiters ??= []).push(resolve));
      return { device, app, outcome };
    }
    // Claimed here before the first await, so a retry arriving in this process during the
    // store's look-up (a network round trip with a shared store) waits instead of sending
    // again; the store's claim does the same across processes.
    const claim: Claim = {};
    this.inProgress.set(key.delivery, claim);
    let outcome: DispatchOutcome = { kind: 'failed', reason: 'internal error' };
    try {
      const found = await this.claimDelivery(key, ctx);
      if (found === 'rejected') {
        const result = await this.rejectedFromMemory(appMetrics, app, ctx);
        outcome = result.outcome;
        return result;
      }
      if (found === 'delivered') {
        appMetrics.deduplicated.inc();
        if (this.log.isLevelEnabled('debug')) ctx.log.debug('event already delivered to this device; not notifying it twice');
        outcome = { kind: 'delivered' };
        return { device, app, outcome };
      }
      if (found === 'deadline') {
        outcome = { kind: 'retry', reason: 'another process is still sending this event to this device' };
        return { device, app, outcome };
      }
      outcome = await this.send(pushkin, notification, ctx);
      // A rejection is remembered before the claim goes, so a process waiting on the claim finds it.
      const result = await this.record(appMetrics, app, device, outcome);
      // Settled without waiting: until it is, the claim stands and a retry waits for it, so
      // the answer need not wait for the store's round trip.
      (outcome.kind === 'delivered' ? this.store.rememberDelivered(key) : this.store.releaseDelivery(key)).catch((err: unknown) =>
        ctx.log.error({ err }, 'settling the delivery in the store failed unexpectedly'),
      );
      return result;
    } finally {
      this.inProgress.delete(key.delivery);
      for (const waiter of claim.waiters ?? []) waiter(outcome);
    }
  }

  /**
   * Claims the delivery in the store (which finds a remembered rejection in the same
   * step). While another process holds the claim (a retry that reached another worker or
   * instance while the first send is in flight), asks again every CLAIM_POLL_MS until
   * that send settles, or until the request's deadline.
   */
  private async claimDelivery(key: DeliveryKey, ctx: DeviceContext): Promise<'claimed' | 'rejected' | 'delivered' | 'deadline'> {
    const holdMs = this.deadlineMs + CLAIM_MARGIN_MS;
    let found = await this.store.claimDelivery(key, holdMs);
    if (found !== 'in-flight') return found;
    if (this.log.isLevelEnabled('debug')) ctx.log.debug('event being sent to this device by another process; waiting for its outcome');
    while (found === 'in-flight') {
      try {
        await this.clock.sleep(CLAIM_POLL_MS, ctx.signal);
      } catch {
        return 'deadline';
      }
      found = await this.store.claimDelivery(key, holdMs);
    }
    return found;
  }

  private rejectedFromMemory(appMetrics: AppMetrics, app: string, ctx: DeviceContext): Promise<DeviceResult> {
    appMetrics.rejectedFromMemory.inc();
    ctx.log.info('rejecting pushkey found dead by an earlier request');
    return this.record(appMetrics, app, ctx.device, { kind: 'rejected', reason: 'found dead by an earlier request' });
  }

  private async send(pushkin: Pushkin, notification: Notification, ctx: DeviceContext): Promise<DispatchOutcome> {
    try {
      return await pushkin.dispatch(notification, ctx.device, ctx);
    } catch (err) {
      ctx.log.error({ err }, 'pushkin failed unexpectedly');
      this.reportBug(err, notification, ctx);
      return { kind: 'failed', reason: 'internal error in the pushkin' };
    }
  }

  /** An unexpected exception to the error reports, with the request id and nothing of the notification. */
  private reportBug(err: unknown, notification: Notification, ctx: DeviceContext): void {
    if (!this.errors) return;
    const requestId = ctx.log.bindings().request_id as unknown;
    this.errors.report(err, { ...(typeof requestId === 'string' ? { requestId } : {}), secrets: stringsOf(notification) });
  }

  private async record(appMetrics: AppMetrics, app: string, device: Device, outcome: DispatchOutcome): Promise<DeviceResult> {
    appMetrics.outcome(outcome.kind).inc();
    if (outcome.kind === 'rejected') await this.store.rememberRejected(app, device.pushkey);
    return { device, app, outcome };
  }

  /**
   * Answers every request still waiting, now, with `retry` for its unfinished devices:
   * on shutdown, so homeservers get a 502 to retry rather than a cut connection.
   */
  answerAllNow(reason: string): void {
    for (const answerNow of [...this.unanswered]) answerNow(reason);
  }

  /** The result of a device without an outcome when its request had to be answered. */
  private unfinished(ctx: DeviceContext, reason: string, deadlinePassed: boolean): DeviceResult {
    const outcome: DispatchOutcome = { kind: 'retry', reason };
    const route = this.router.route(ctx.device.app_id);
    if (route.kind === 'found') {
      const appMetrics = this.metrics.forApp(route.target.name);
      if (deadlinePassed) appMetrics.deadlineExceeded.inc();
      appMetrics.outcome(outcome.kind).inc();
    }
    ctx.log.warn({ deadline_ms: this.deadlineMs }, `${reason}; the homeserver will retry`);
    const result = { device: ctx.device, ...(route.kind === 'found' ? { app: route.target.name } : {}), outcome };
    ctx.trace?.end(result);
    return result;
  }
}

/** How often a request asks whether another process's send of the same delivery has settled. */
const CLAIM_POLL_MS = 50;
/**
 * A claim outlives the send it covers (bounded by the notify deadline) by this much;
 * it lapses by itself only if its process died mid-send.
 */
const CLAIM_MARGIN_MS = 5_000;

/** A delivery being handled; requests that arrive meanwhile wait for its outcome. */
interface Claim {
  waiters?: Array<(outcome: DispatchOutcome) => void>;
}

/** What one notify request's devices share: the deadline, an abort signal, the request's logger. */
class RequestScope {
  private controller?: AbortController;

  constructor(
    readonly deadline: number,
    readonly requestLog: () => Logger,
  ) {}

  /** Aborted at the deadline; made on first use, as most sends finish without looking at it. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      // One signal serves every device of the request (and each of their retries' waits).
      setMaxListeners(0, this.controller.signal);
    }
    return this.controller.signal;
  }

  abort(): void {
    this.controller?.abort();
  }
}

/**
 * A device's dispatch context. Its logger (the request's, plus app_id and the pushkey's
 * hash) is made on first use: hashing and child loggers cost, and most sends log nothing.
 */
class DeviceContext implements DispatchContext {
  private logger?: Logger;

  constructor(
    private readonly scope: RequestScope,
    readonly device: Device,
    readonly trace: DeviceTrace | undefined,
  ) {}

  get deadline(): number {
    return this.scope.deadline;
  }

  get signal(): AbortSignal {
    return this.scope.signal;
  }

  get log(): Logger {
    this.logger ??= this.scope.requestLog().child({ app_id: this.device.app_id, pushkey_hash: redactPushkey(this.device.pushkey) });
    return this.logger;
  }
}
