import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Metrics } from '../metrics/metrics';
import type { ErrorReporter, NotifyTrace, NotifyTracer } from '../observability/hooks';
import { stringsOf } from '../observability/scrub';
import type { Logger } from '../util/log';
import { logAccess, requestIds } from './access-log';
import { isClientGone, MatrixError, toMatrixError } from './errors';

/** What Herald keeps in `res.locals` while it answers a request. */
interface ExchangeState {
  /** When the request arrived (notify requests, and every request when access logging). */
  startedNs?: bigint;
  /** Set for a notify request until it is answered: it is in flight and its answer is counted. */
  notifyInFlight?: boolean;
  /** Made only when something about the request is logged. */
  requestId?: string;
  log?: Logger;
  /** The notify request's trace, when tracing is on and it is sampled. */
  trace?: NotifyTrace;
}

function stateOf(res: Response): ExchangeState {
  return res.locals as ExchangeState;
}

export interface ExchangeOptions {
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Present when tracing is on. */
  readonly tracer?: NotifyTracer;
  /** Present when error reports are on. */
  readonly errors?: ErrorReporter;
}

type StatusMetrics = { count: { inc(): void }; time: { observe(value: number): void } };

/**
 * How every request is answered and accounted for: the JSON answer, the notify
 * metrics (in flight, by status, time taken), the request's id and logger (made
 * lazily), the access line, and the one error handler.
 */
export class Exchanges {
  private readonly nextId = requestIds();
  /** Per-status metric children, looked up once. */
  private readonly byStatus = new Map<number, StatusMetrics>();

  constructor(private readonly options: ExchangeOptions) {}

  /** First on the notify route: the request is in flight until answered. */
  readonly beginNotify: RequestHandler = (req, res, next) => {
    const state = stateOf(res);
    state.startedNs ??= process.hrtime.bigint();
    state.notifyInFlight = true;
    this.options.metrics.requestsInFlight.inc();
    if (this.options.tracer) state.trace = this.options.tracer.start(req.headers);
    next();
  };

  /** First of all when the access log is on: one line per request once it is answered. */
  readonly accessLog: RequestHandler = (_req, res, next) => {
    const startedNs = process.hrtime.bigint();
    stateOf(res).startedNs = startedNs;
    res.once('finish', () => logAccess(this.options.log, res.req, res.statusCode, startedNs, this.requestId(res)));
    next();
  };

  /** The request's logger, carrying its id (made on first use). */
  requestLog(res: Response): Logger {
    const state = stateOf(res);
    state.log ??= this.options.log.child({ request_id: this.requestId(res) });
    return state.log;
  }

  /** The notify request's trace, if it is traced. */
  trace(res: Response): NotifyTrace | undefined {
    return stateOf(res).trace;
  }

  private requestId(res: Response): string {
    const state = stateOf(res);
    state.requestId ??= this.nextId();
    return state.requestId;
  }

  /** Answers with `body` as JSON (`text` when it is already serialised) and counts a notify answer. */
  send(res: Response, status: number, body: object, text?: string): void {
    this.settle(res, status);
    const json = text ?? JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
    res.end(json);
  }

  /** A notify request leaves flight once, with its status counted. */
  private settle(res: Response, status: number): void {
    const state = stateOf(res);
    if (!state.notifyInFlight) return;
    state.notifyInFlight = false;
    const { metrics } = this.options;
    metrics.requestsInFlight.dec();
    let found = this.byStatus.get(status);
    if (!found) {
      found = { count: metrics.statusCodes.labels(String(status)), time: metrics.notifyTime.labels(String(status)) };
      this.byStatus.set(status, found);
    }
    found.count.inc();
    found.time.observe(Number(process.hrtime.bigint() - (state.startedNs ?? 0n)) / 1e9);
    if (state.trace) this.endTrace(res, status);
  }

  private endTrace(res: Response, status: number | undefined): void {
    const state = stateOf(res);
    state.trace?.end(status, this.requestId(res));
    state.trace = undefined;
  }

  /**
   * The last middleware: Matrix JSON for every refusal (body parser, validator, ours);
   * a 500 only for Herald's own bugs, and it leaks nothing.
   */
  readonly errorHandler: ErrorRequestHandler = (err, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    if (isClientGone(err)) {
      const state = stateOf(res);
      if (state.notifyInFlight) {
        state.notifyInFlight = false;
        this.options.metrics.requestsInFlight.dec();
      }
      if (state.trace) this.endTrace(res, undefined);
      if (this.options.log.isLevelEnabled('debug')) this.requestLog(res).debug('the client closed the connection before sending the whole body');
      res.destroy();
      return;
    }
    const matrixError = toMatrixError(err) ?? new MatrixError(500, 'M_UNKNOWN', 'internal server error');
    if (matrixError.status >= 500) {
      this.requestLog(res).error({ err, method: req.method, path: req.path }, 'request failed');
      this.options.errors?.report(err, { requestId: this.requestId(res), secrets: stringsOf(req.body) });
    } else if (this.options.log.isLevelEnabled('debug')) {
      this.requestLog(res).debug({ status: matrixError.status, error: matrixError.message, path: req.path }, 'request refused');
    }
    for (const [name, value] of Object.entries(matrixError.headers)) res.setHeader(name, value);
    this.send(res, matrixError.status, matrixError.toJSON());
  };
}
