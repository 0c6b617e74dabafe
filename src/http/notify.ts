import type { IncomingMessage, ServerResponse } from 'node:http';
import { isFinal, type DeviceResult, type Dispatcher } from '../dispatch/dispatcher';
import type { Metrics } from '../metrics/metrics';
import { normalizeNotification, type NotifyRequestBody } from '../notification/normalize';
import type { Logger } from '../util/log';
import { logAccess, requestIds } from './access-log';
import { MatrixError } from './errors';
import { describeSchemaErrors, type ApiSchemas } from './schema';

export interface NotifyEndpointOptions {
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly schemas: ApiSchemas;
  readonly maxBodyBytes: number;
  readonly accessLog: boolean;
  readonly accessXForwardedFor: boolean;
  /** Looked up per request, so a config reload takes effect for new requests only. */
  dispatcher(): Dispatcher;
  /** Check our own answers against the OpenAPI document (tests); a wrong one becomes a 500. */
  readonly validateResponses: boolean;
}

/** A request's id and logger, made only when something is logged. */
class RequestLog {
  private logger?: Logger;
  private requestId?: string;
  constructor(
    private readonly parent: Logger,
    private readonly nextId: () => string,
  ) {}

  get id(): string {
    this.requestId ??= this.nextId();
    return this.requestId;
  }

  get log(): Logger {
    this.logger ??= this.parent.child({ request_id: this.id });
    return this.logger;
  }
}

/** The answer to almost every notification, serialised once. */
const NOTHING_REJECTED = JSON.stringify({ rejected: [] });

/**
 * POST /_matrix/push/v1/notify on plain node:http: the one endpoint on every message's
 * path, so it reads, validates (ajv, compiled once from our OpenAPI document) and answers
 * without a framework in between. Answers 200 only when every device was delivered (or
 * needed nothing) or rejected; otherwise 502 with each device's outcome, so the
 * homeserver retries and the devices already delivered are de-duplicated then.
 */
export function createNotifyEndpoint(options: NotifyEndpointOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { metrics, schemas, log } = options;
  const nextId = requestIds();

  // Per-status metric children, looked up once.
  const byStatus = new Map<number, { count: { inc(): void }; time: { observe(value: number): void } }>();
  const statusMetrics = (status: number) => {
    let found = byStatus.get(status);
    if (!found) {
      found = { count: metrics.statusCodes.labels(String(status)), time: metrics.notifyTime.labels(String(status)) };
      byStatus.set(status, found);
    }
    return found;
  };

  const answer = (req: IncomingMessage, res: ServerResponse, startedNs: bigint, requestLog: RequestLog, status: number, text: string): void => {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
    metrics.requestsInFlight.dec();
    const { count, time } = statusMetrics(status);
    count.inc();
    time.observe(Number(process.hrtime.bigint() - startedNs) / 1e9);
    if (options.accessLog && log.isLevelEnabled('info')) logAccess(log, req, status, startedNs, requestLog.id, options.accessXForwardedFor);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, startedNs: bigint, requestLog: RequestLog): Promise<void> => {
    const raw = await readBody(req, options.maxBodyBytes);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      throw new MatrixError(400, 'M_NOT_JSON', 'the request body is not valid JSON');
    }
    if (!schemas.notifyRequest(body)) {
      const { text, onlyMissing } = describeSchemaErrors(schemas.notifyRequest.errors ?? []);
      throw new MatrixError(400, onlyMissing ? 'M_MISSING_PARAM' : 'M_BAD_JSON', text);
    }
    const notification = normalizeNotification(body as NotifyRequestBody);
    metrics.notificationsReceived.inc();
    metrics.devicesReceived.inc(notification.devices.length);
    let eventLog: Logger | undefined;
    const results = await options.dispatcher().dispatch(notification, () => {
      eventLog ??= notification.event_id ? requestLog.log.child({ event_id: notification.event_id }) : requestLog.log;
      return eventLog;
    });
    if (results.every((result) => result.outcome.kind === 'delivered' || result.outcome.kind === 'skipped')) {
      answer(req, res, startedNs, requestLog, 200, NOTHING_REJECTED);
      return;
    }
    const [status, reply, headers] = replyFor(results);
    if (status !== 200) {
      requestLog.log.warn(
        { event_id: notification.event_id, devices: results.length, outcomes: results.filter((r) => !isFinal(r.outcome)).map((r) => r.outcome.kind) },
        'answering 502: some devices could not be delivered now',
      );
    }
    const schema = status === 200 ? schemas.notifyResponse : schemas.notifyFailure;
    if (options.validateResponses && !schema(reply)) {
      throw new Error(`our ${status} answer does not match the OpenAPI document: ${JSON.stringify(schema.errors)}`);
    }
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    answer(req, res, startedNs, requestLog, status, JSON.stringify(reply));
  };

  return (req, res) => {
    const startedNs = process.hrtime.bigint();
    metrics.requestsInFlight.inc();
    const requestLog = new RequestLog(log, nextId);
    handle(req, res, startedNs, requestLog).catch((err: unknown) => {
      if (err instanceof ClientGone) {
        metrics.requestsInFlight.dec();
        if (log.isLevelEnabled('debug')) requestLog.log.debug(err.message);
        res.destroy();
        return;
      }
      const error = err instanceof MatrixError ? err : new MatrixError(500, 'M_UNKNOWN', 'internal server error');
      if (error.status >= 500) requestLog.log.error({ err }, 'notify request failed');
      if (error.status === 413) res.setHeader('connection', 'close');
      answer(req, res, startedNs, requestLog, error.status, JSON.stringify(error));
    });
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

/** The body as text, refusing more than `limit` bytes (checked against Content-Length first). */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const tooLarge = () => new MatrixError(413, 'M_TOO_LARGE', `the request body is larger than this gateway accepts (${limit} bytes)`);
  if (Number(req.headers['content-length'] ?? 0) > limit) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => reject(new ClientGone()));
  });
}

/** The homeserver went away before sending the whole body: nobody to answer, nothing to count as ours. */
class ClientGone extends Error {
  constructor() {
    super('the client closed the connection before sending the whole body');
    this.name = 'ClientGone';
  }
}
