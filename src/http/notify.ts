import type { RequestHandler } from 'express';
import { isFinal, type DeviceResult, type Dispatcher } from '../dispatch/dispatcher';
import type { Metrics } from '../metrics/metrics';
import { normalizeNotification, type NotifyRequestBody } from '../notification/normalize';
import type { Logger } from '../util/log';
import type { Exchanges } from './exchange';

export interface NotifyHandlerOptions {
  readonly metrics: Metrics;
  readonly exchanges: Exchanges;
  /** Looked up per request, so a config reload takes effect for new requests only. */
  dispatcher(): Dispatcher;
}

/** The answer to almost every notification, serialised once. */
const NOTHING_REJECTED = { rejected: [] } as const;
const NOTHING_REJECTED_TEXT = JSON.stringify(NOTHING_REJECTED);

/**
 * POST /_matrix/push/v1/notify, once express.json() has read the body and
 * express-openapi-validator has checked it against `openapi/herald.yaml`. Answers 200
 * only when every device was delivered (or needed nothing) or rejected; otherwise 502
 * with each device's outcome, so the homeserver retries and the devices already
 * delivered are de-duplicated then.
 */
export function notifyHandler(options: NotifyHandlerOptions): RequestHandler {
  const { metrics, exchanges } = options;
  return async (req, res) => {
    const notification = normalizeNotification(req.body as NotifyRequestBody);
    metrics.notificationsReceived.inc();
    metrics.devicesReceived.inc(notification.devices.length);
    const trace = exchanges.trace(res);
    trace?.notification(notification);
    let eventLog: Logger | undefined;
    const results = await options.dispatcher().dispatch(notification, () => {
      eventLog ??= notification.event_id ? exchanges.requestLog(res).child({ event_id: notification.event_id }) : exchanges.requestLog(res);
      return eventLog;
    }, trace);
    if (results.every((result) => result.outcome.kind === 'delivered' || result.outcome.kind === 'skipped')) {
      exchanges.send(res, 200, NOTHING_REJECTED, NOTHING_REJECTED_TEXT);
      return;
    }
    const [status, reply, headers] = replyFor(results);
    if (status !== 200) {
      exchanges
        .requestLog(res)
        .warn(
          { event_id: notification.event_id, devices: results.length, outcomes: results.filter((r) => !isFinal(r.outcome)).map((r) => r.outcome.kind) },
          'answering 502: some devices could not be delivered now',
        );
    }
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    exchanges.send(res, status, reply);
  };
}

/** The status, body and headers answering a notification's device results. */
function replyFor(results: readonly DeviceResult[]): [number, object, Record<string, string>] {
  const rejected = [...new Set(results.filter((r) => r.outcome.kind === 'rejected').map((r) => r.device.pushkey))];
  const pending = results.filter((result) => !isFinal(result.outcome));
  if (pending.length === 0) return [200, { rejected }, {}];
  const retryAfterMs = Math.max(0, ...pending.map((r) => (r.outcome.kind === 'retry' ? (r.outcome.retryAfterMs ?? 0) : 0)));
  const headers: Record<string, string> = retryAfterMs > 0 ? { 'retry-after': String(Math.ceil(retryAfterMs / 1000)) } : {};
  const body = {
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
  };
  return [502, body, headers];
}
