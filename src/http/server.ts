import { randomBytes } from 'node:crypto';
import express, { type Express, type RequestHandler } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import type { Dispatcher } from '../dispatch/dispatcher';
import type { Metrics } from '../metrics/metrics';
import type { Logger } from '../util/log';
import { resourcePath } from '../util/resources';
import { VERSION } from '../version';
import { errorMiddleware, MatrixError } from './errors';
import { notifyHandler, notifyMetrics } from './notify';

/** Our OpenAPI document, read once at start-up. */
export const OPENAPI_PATH = resourcePath('openapi/herald.yaml');
export const NOTIFY_PATH = '/_matrix/push/v1/notify';

export interface HttpAppOptions {
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly maxBodyBytes: number;
  /** Take the client address from X-Forwarded-For. */
  readonly accessXForwardedFor: boolean;
  dispatcher(): Dispatcher;
  /** Validate our own responses too (tests). */
  readonly validateResponses?: boolean;
}

/** A short id per request, carried by every log line about it. */
function requestIds(): () => string {
  const prefix = randomBytes(3).toString('hex');
  let counter = 0;
  return () => `${prefix}-${(counter++).toString(36)}`;
}

/** One access line per request, and a child logger carrying the request id for the rest. */
function accessLog(log: Logger, xForwardedFor: boolean): RequestHandler {
  const nextId = requestIds();
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const requestLog = log.child({ request_id: nextId() });
    res.locals.log = requestLog;
    res.once('close', () => {
      const forwarded = xForwardedFor ? req.headers['x-forwarded-for'] : undefined;
      const client = (typeof forwarded === 'string' ? forwarded.split(',')[0]?.trim() : undefined) ?? req.socket.remoteAddress;
      requestLog.info(
        {
          method: req.method,
          path: req.path,
          status: res.statusCode,
          duration_ms: Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10,
          client,
        },
        'request',
      );
    });
    next();
  };
}

export function createHttpApp(options: HttpAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('trust proxy', false);

  app.use(accessLog(options.log, options.accessXForwardedFor));
  app.get('/health', (_req, res) => {
    res.type('text/plain').send(`OK, herald ${VERSION}`);
  });

  // Homeservers always send JSON; read it as JSON whatever the Content-Type says, so a
  // missing or odd header is not a reason to refuse (and be retried forever).
  app.use(NOTIFY_PATH, notifyMetrics(options.metrics), (req, _res, next) => {
    req.headers['content-type'] = 'application/json';
    next();
  });
  app.use(express.json({ limit: options.maxBodyBytes, type: () => true, strict: true }));
  app.use(
    OpenApiValidator.middleware({
      apiSpec: OPENAPI_PATH,
      validateRequests: { allErrors: true },
      validateResponses: options.validateResponses ?? false,
      validateApiSpec: false,
      fileUploader: false,
    }),
  );
  app.post(NOTIFY_PATH, notifyHandler({ dispatcher: options.dispatcher, metrics: options.metrics }));
  app.use(() => {
    throw new MatrixError(404, 'M_UNRECOGNIZED', 'unrecognized request');
  });
  app.use(errorMiddleware(options.log));
  return app;
}
