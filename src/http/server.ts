import { createServer, IncomingMessage, ServerResponse, type Server } from 'node:http';
import express, { type Express, type RequestHandler } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import type { Dispatcher } from '../dispatch/dispatcher';
import type { Metrics } from '../metrics/metrics';
import type { ErrorReporter, NotifyTracer } from '../observability/hooks';
import type { Cidr } from '../guard/callers';
import type { BucketLimit } from '../guard/token-bucket';
import type { Clock } from '../util/clock';
import type { StoreHealth } from '../store/store';
import type { Logger } from '../util/log';
import { resourcePath } from '../util/resources';
import { VERSION } from '../version';
import { oversizeBodies } from './body-limit';
import { serverOptions, type ListenerSettings } from './protocol';
import { callerGuard } from './caller-guard';
import { MatrixError } from './errors';
import { Exchanges } from './exchange';
import { notifyHandler } from './notify';

export const NOTIFY_PATH = '/_matrix/push/v1/notify';

/** Our OpenAPI document: the one description of the API, for the validator and for readers. */
export const OPENAPI_PATH = resourcePath('openapi/herald.yaml');

export interface HttpOptions {
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly maxBodyBytes: number;
  /** Write one access line per request (log.access.enabled). */
  readonly accessLog: boolean;
  /** Reverse proxies whose X-Forwarded-For entries are believed (http.trusted_proxies); empty: none. */
  readonly trustedProxies: readonly Cidr[];
  dispatcher(): Dispatcher;
  /** Said by /health; a degraded store keeps it 200 (see createHttpApp). */
  storeHealth?(): StoreHealth;
  /** http.allowed_callers; undefined: everyone. */
  readonly allowedCallers?: readonly Cidr[];
  /** http.rate_limit; undefined: none. */
  readonly rateLimit?: { readonly perCaller: BucketLimit; readonly perPushkey: BucketLimit };
  /** Time for the rate limits. */
  readonly clock: Clock;
  /** Whether a `unifiedpush` app is configured now: GET of the notify path then answers UnifiedPush's discovery. */
  unifiedPushGateway?(): boolean;
  /** Present when tracing is on. */
  readonly tracer?: NotifyTracer;
  /** Present when error reports are on. */
  readonly errors?: ErrorReporter;
}

/**
 * What UnifiedPush clients look for with a GET of the notify path on their distributor's
 * host, to find a Matrix gateway there (UnifiedPush docs, "Matrix gateway"); the
 * top-level `gateway` is what common-proxies adds.
 */
const UNIFIEDPUSH_DISCOVERY = { gateway: 'matrix', unifiedpush: { gateway: 'matrix' } } as const;

/**
 * Homeservers send JSON, not always labelled so (no Content-Type, or text/plain), so
 * every body is read as JSON. The validator is told the same: it picks the request
 * schema by Content-Type and caches one compiled validator per distinct header value,
 * which a caller could otherwise grow without bound.
 */
const readAsJson: RequestHandler = (req, _res, next) => {
  req.headers['content-type'] = 'application/json';
  next();
};

/**
 * The one HTTP stack: an Express app serving /health and the notify endpoint, with
 * the request checked by express-openapi-validator against `openapi/herald.yaml`,
 * and Matrix errors for everything else (404 and 405 with Allow come from the
 * validator, which knows the document's paths and methods).
 */
export function createHttpApp(options: HttpOptions): Express {
  const exchanges = new Exchanges({
    log: options.log,
    metrics: options.metrics,
    ...(options.tracer !== undefined ? { tracer: options.tracer } : {}),
    ...(options.errors !== undefined ? { errors: options.errors } : {}),
  });
  const validator = OpenApiValidator.middleware({
    apiSpec: OPENAPI_PATH,
    validateApiSpec: false,
    // Inlined once at start-up rather than followed per request.
    $refParser: { mode: 'dereference' },
    validateRequests: { allowUnknownQueryParameters: true, coerceTypes: false, removeAdditional: false },
    // Answers are checked by the tests against this document as written (docs/design-decisions.md).
    validateResponses: false,
    validateSecurity: false,
    fileUploader: false,
  });

  const guard = callerGuard({
    ...(options.allowedCallers !== undefined ? { allowedCallers: options.allowedCallers } : {}),
    ...(options.rateLimit !== undefined ? { rateLimit: options.rateLimit } : {}),
    metrics: options.metrics,
    clock: options.clock,
  });

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  // Herald reads no query parameters; Express 5 would otherwise parse them on every access.
  app.set('query parser', false);
  // The one answer to "who is calling" (req.ip), for the access log, the allow-list and the
  // rate limits: the nearest X-Forwarded-For entry not added by a trusted proxy.
  app.set('trust proxy', options.trustedProxies.length > 0 ? options.trustedProxies.map((network) => `${network.address}/${network.prefix}`) : false);
  if (options.accessLog && options.log.isLevelEnabled('info')) app.use(exchanges.accessLog);
  // Still 200 with a degraded store: Herald keeps delivering without it, and every
  // instance shares the same Redis, so a load balancer taking them out would stop all.
  app.get('/health', (_req, res) => {
    const store = options.storeHealth?.();
    const degraded = store?.state === 'degraded' ? `; store degraded: ${store.reason}` : '';
    res.type('text/plain').send(`OK, herald ${VERSION}${degraded}`);
  });
  app.post(
    NOTIFY_PATH,
    exchanges.beginNotify,
    ...guard.callers,
    readAsJson,
    oversizeBodies(options.maxBodyBytes),
    express.json({ type: () => true, limit: options.maxBodyBytes, strict: false }),
    ...validator,
    ...guard.pushkeys,
    notifyHandler({ metrics: options.metrics, exchanges, dispatcher: options.dispatcher }),
  );
  // Clients probe it from phones: no caller guard, which is for homeservers.
  app.get(NOTIFY_PATH, (_req, res) => {
    if (!options.unifiedPushGateway?.()) throw new MatrixError(405, 'M_UNRECOGNIZED', 'method not allowed', { allow: 'POST' });
    exchanges.send(res, 200, UNIFIEDPUSH_DISCOVERY);
  });
  // Any other request: the validator answers 404, or 405 for a documented path.
  app.use(...validator);
  app.use(() => {
    throw new MatrixError(404, 'M_UNRECOGNIZED', 'unrecognized request');
  });
  app.use(exchanges.errorHandler);
  return app;
}

/** The request and response classes of each app's listeners, made once per app. */
const messageClasses = new WeakMap<Express, { IncomingMessage: typeof IncomingMessage; ServerResponse: typeof ServerResponse }>();

/**
 * A listener for `app`. Node constructs each request and response directly as the app's
 * (`app.request` / `app.response` are on their prototype chains), so Express's
 * per-request `Object.setPrototypeOf` finds the prototype already in place and changes
 * nothing. Re-parenting two objects on every request made V8 keep every request's
 * objects through young-generation collections: measured at one connection, 3-4 MB
 * promoted per scavenge, 2-4 ms scavenge pauses and a mark-compact every 2 s (the
 * one-connection p99 in docs/performance.md); with the prototypes in place, nothing is promoted.
 */
export function createHttpServer(app: Express, settings: ListenerSettings): Server {
  let classes = messageClasses.get(app);
  if (!classes) {
    class ExpressRequest extends IncomingMessage {}
    class ExpressResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {}
    // Express's own objects stay on the chain, so app.request / app.response extensions still apply.
    Object.setPrototypeOf(ExpressRequest.prototype, app.request);
    Object.setPrototypeOf(ExpressResponse.prototype, app.response);
    // Express types these as its Request/Response; the prototypes are those objects' heirs.
    app.request = ExpressRequest.prototype as unknown as Express['request'];
    app.response = ExpressResponse.prototype as unknown as Express['response'];
    classes = { IncomingMessage: ExpressRequest, ServerResponse: ExpressResponse };
    messageClasses.set(app, classes);
  }
  return createServer({ ...serverOptions(settings), ...classes }, app);
}
