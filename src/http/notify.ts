import type { Request, RequestHandler, Response } from 'express';
import { isFinal, type DeviceResult, type Dispatcher } from '../dispatch/dispatcher';
import type { Metrics } from '../metrics/metrics';
import { normalizeNotification, type NotifyRequestBody } from '../notification/normalize';
import type { Logger } from '../util/log';

export interface NotifyDeps {
  /** Looked up per request, so a config reload takes effect for new requests only. */
  dispatcher(): Dispatcher;
  readonly metrics: Metrics;
}

/** Counts every notify request by status and time, whatever answers it (handler or error middleware). */
export function notifyMetrics(metrics: Metrics): RequestHandler {
  return (_req, res, next) => {
    const started = process.hrtime.bigint();
    metrics.requestsInFlight.inc();
    res.once('close', () => {
      metrics.requestsInFlight.dec();
      const code = String(res.statusCode);
      metrics.statusCodes.labels(code).inc();
      metrics.notifyTime.labels(code).observe(Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}

/** Pushkeys to report as rejected, each once, in request order. */
function rejectedPushkeys(results: readonly DeviceResult[]): string[] {
  const rejected = new Set<string>();
  for (const result of results) if (result.outcome.kind === 'rejected') rejected.add(result.device.pushkey);
  return [...rejected];
}

/**
 * POST /_matrix/push/v1/notify. Answers 200 only when every device was delivered (or
 * needed nothing) or rejected; otherwise 502 with each device's outcome, so the
 * homeserver retries and the devices already delivered are de-duplicated then.
 */
export function notifyHandler(deps: NotifyDeps): RequestHandler {
  return async (req: Request, res: Response) => {
    const log = (res.locals.log as Logger | undefined) ?? (req as unknown as { log: Logger }).log;
    const notification = normalizeNotification(req.body as NotifyRequestBody);
    deps.metrics.notificationsReceived.inc();
    deps.metrics.devicesReceived.inc(notification.devices.length);
    const requestLog = notification.event_id ? log.child({ event_id: notification.event_id }) : log;

    const results = await deps.dispatcher().dispatch(notification, requestLog);
    const rejected = rejectedPushkeys(results);
    if (results.every((result) => isFinal(result.outcome))) {
      res.status(200).json({ rejected });
      return;
    }

    const pending = results.filter((result) => !isFinal(result.outcome));
    const retryAfterMs = Math.max(0, ...pending.map((r) => (r.outcome.kind === 'retry' ? (r.outcome.retryAfterMs ?? 0) : 0)));
    if (retryAfterMs > 0) res.set('Retry-After', String(Math.ceil(retryAfterMs / 1000)));
    requestLog.warn(
      { devices: results.length, undelivered: pending.length, outcomes: pending.map((r) => r.outcome.kind) },
      'answering 502: some devices could not be delivered now',
    );
    res.status(502).json({
      errcode: 'M_UNKNOWN',
      error: `${pending.length} of ${results.length} devices could not be delivered now; retry later`,
      rejected,
      devices: results.map(({ device, outcome }) => ({
        app_id: device.app_id,
        pushkey: device.pushkey,
        outcome: outcome.kind,
        ...('reason' in outcome ? { reason: outcome.reason } : {}),
        ...(outcome.kind === 'retry' && outcome.retryAfterMs !== undefined ? { retry_after_ms: Math.ceil(outcome.retryAfterMs) } : {}),
      })),
    });
  };
}
