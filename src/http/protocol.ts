import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Metrics } from '../metrics/metrics';
import type { Logger } from '../util/log';
import { MatrixError } from './errors';

/** The listener settings of `http` in the configuration. */
export interface ListenerSettings {
  readonly requestTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxConnections: number;
}

/**
 * How often Node looks for requests past their timeouts. Its default, 30 s, let a stalled
 * body hold a connection (and a place in requests_in_flight) up to 30 s past the setting.
 */
export const TIMEOUT_CHECK_INTERVAL_MS = 500;

/** The options of `http.createServer` that carry the listener settings. */
export function serverOptions(settings: ListenerSettings): {
  requestTimeout: number;
  headersTimeout: number;
  keepAliveTimeout: number;
  connectionsCheckingInterval: number;
} {
  return {
    requestTimeout: settings.requestTimeoutMs,
    headersTimeout: settings.headersTimeoutMs,
    keepAliveTimeout: settings.keepAliveTimeoutMs,
    connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
  };
}

/** What Node's HTTP parser reports on `clientError`. */
export interface ParserError {
  readonly code?: string;
  /** llhttp's description, e.g. "Invalid character in Content-Length". */
  readonly reason?: string;
}

/**
 * The Matrix error answering a request Node's parser refused, or a request past its
 * timeout. Pure, so the table is tested without sockets.
 */
export function protocolError(err: ParserError, settings: ListenerSettings): MatrixError {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new MatrixError(431, 'M_TOO_LARGE', 'the request headers are larger than this gateway accepts (16 KB)');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new MatrixError(
        408,
        'M_UNKNOWN',
        `the request was not received in time (headers within ${settings.headersTimeoutMs} ms, the whole request within ${settings.requestTimeoutMs} ms)`,
      );
    default: {
      const reason = err.reason ?? err.code ?? 'unknown parse error';
      return new MatrixError(400, 'M_UNKNOWN', `malformed HTTP request: ${reason}`);
    }
  }
}

/** The 417 for an `Expect` header other than `100-continue`. */
export function expectationError(expect: string | undefined): MatrixError {
  return new MatrixError(417, 'M_UNKNOWN', `Expect: only "100-continue" is supported, got ${JSON.stringify(expect ?? '')}`);
}

/**
 * Applies the listener settings to `server` and answers what never reaches a request
 * handler with a Matrix JSON error: malformed HTTP (400, 431 for headers too large),
 * requests past their timeouts (408) and unknown `Expect` headers (417). Node's own
 * answers to these are bare text.
 */
export function guardServer(server: Server, settings: ListenerSettings, log: Logger, metrics: Metrics): void {
  server.maxConnections = settings.maxConnections;
  server.on('drop', () => metrics.connectionsDropped.inc());

  // The response last started on each connection: an error answer must not be written
  // into the middle of one.
  const responses = new WeakMap<Socket, ServerResponse>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => responses.set(req.socket, res));

  server.on('clientError', (err: Error & ParserError, socket: Socket) => {
    const response = responses.get(socket);
    // Nothing to answer on a socket that is gone, or that carries a response still being written.
    if (err.code === 'ECONNRESET' || !socket.writable || (response?.headersSent === true && !response.writableFinished)) {
      socket.destroy();
      return;
    }
    const error = protocolError(err, settings);
    metrics.protocolErrors.labels(String(error.status)).inc();
    if (log.isLevelEnabled('debug')) log.debug({ status: error.status, code: err.code, client: socket.remoteAddress }, error.message);
    const body = JSON.stringify(error);
    socket.end(
      `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}\r\n` +
        `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });

  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const error = expectationError(req.headers.expect);
    metrics.protocolErrors.labels(String(error.status)).inc();
    const body = JSON.stringify(error);
    // The body, if any, is not read: close rather than parse it as the next request.
    res.writeHead(error.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(body);
  });
}
