import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type Express } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import type { Dispatcher } from '../dispatch/dispatcher';
import type { Metrics } from '../metrics/metrics';
import type { StoreHealth } from '../store/store';
import type { Logger } from '../util/log';
import { VERSION } from '../version';
import { logAccess, requestIds } from './access-log';
import { errorMiddleware, MatrixError } from './errors';
import { createNotifyEndpoint } from './notify';
import { ApiSchemas, OPENAPI_PATH } from './schema';

export const NOTIFY_PATH = '/_matrix/push/v1/notify';

export interface HttpOptions {
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly maxBodyBytes: number;
  /** Take the client address from X-Forwarded-For. */
  readonly accessXForwardedFor: boolean;
  dispatcher(): Dispatcher;
  /** Said by /health; a degraded store keeps it 200 (see createExpressApp). */
  storeHealth?(): StoreHealth;
  /** Validate our own notify answers against the OpenAPI document (tests). */
  readonly validateResponses?: boolean;
}

/**
 * Everything but the notify endpoint: /health, and the Matrix errors for unknown paths
 * (404) and wrong methods (405, with Allow, as our OpenAPI document says).
 */
export function createExpressApp(options: Pick<HttpOptions, 'log' | 'accessXForwardedFor' | 'storeHealth'>): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  const nextId = requestIds();
  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    const id = nextId();
    res.once('finish', () => logAccess(options.log, req, res.statusCode, started, id, options.accessXForwardedFor));
    next();
  });
  // Still 200 with a degraded store: Herald keeps delivering without it, and every
  // instance shares the same Redis, so a load balancer taking them out would stop all.
  app.get('/health', (_req, res) => {
    const store = options.storeHealth?.();
    const degraded = store?.state === 'degraded' ? `; store degraded: ${store.reason}` : '';
    res.type('text/plain').send(`OK, herald ${VERSION}${degraded}`);
  });
  app.use(OpenApiValidator.middleware({ apiSpec: OPENAPI_PATH, validateRequests: true, validateApiSpec: false, fileUploader: false }));
  app.use(() => {
    throw new MatrixError(404, 'M_UNRECOGNIZED', 'unrecognized request');
  });
  app.use(errorMiddleware(options.log));
  return app;
}

function isNotify(req: IncomingMessage): boolean {
  if (req.method !== 'POST') return false;
  const url = req.url ?? '';
  const end = url.indexOf('?');
  const path = end === -1 ? url : url.slice(0, end);
  return path === NOTIFY_PATH || path === `${NOTIFY_PATH}/`;
}

/** The HTTP listener: notifications go straight to the notify endpoint, the rest to Express. */
export function createRequestListener(options: HttpOptions): { listener: RequestListener; app: Express } {
  const notify = createNotifyEndpoint({
    log: options.log,
    metrics: options.metrics,
    schemas: new ApiSchemas(),
    maxBodyBytes: options.maxBodyBytes,
    accessXForwardedFor: options.accessXForwardedFor,
    dispatcher: options.dispatcher,
    validateResponses: options.validateResponses ?? false,
  });
  const app = createExpressApp(options);
  const listener = (req: IncomingMessage, res: ServerResponse) => (isNotify(req) ? notify(req, res) : app(req, res));
  return { listener, app };
}
