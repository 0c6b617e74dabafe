import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../util/log';

/** Short ids for requests, unique per process: a random prefix and a counter. */
export function requestIds(): () => string {
  const prefix = randomBytes(3).toString('hex');
  let counter = 0;
  return () => `${prefix}-${(counter++).toString(36)}`;
}

/** The client's address: the first X-Forwarded-For entry when trusted, else the socket's peer. */
export function clientAddress(req: IncomingMessage, xForwardedFor: boolean): string | undefined {
  const forwarded = xForwardedFor ? req.headers['x-forwarded-for'] : undefined;
  const first = typeof forwarded === 'string' ? forwarded.split(',')[0]?.trim() : undefined;
  return first || req.socket.remoteAddress;
}

/**
 * Paths whose access lines are logged at debug: health probes come every few seconds
 * and say nothing (Sygnal logs them at debug too).
 */
const QUIET_PATHS = new Set(['/health']);

/** The one access line per request: at info, or debug for health probes. */
export function logAccess(
  log: Logger,
  req: IncomingMessage,
  status: number,
  startedNs: bigint,
  requestId: string,
  xForwardedFor: boolean,
): void {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const level = QUIET_PATHS.has(path) ? 'debug' : 'info';
  if (!log.isLevelEnabled(level)) return;
  log[level](
    {
      request_id: requestId,
      method: req.method,
      path,
      status,
      duration_ms: Math.round(Number(process.hrtime.bigint() - startedNs) / 1e5) / 10,
      client: clientAddress(req, xForwardedFor),
    },
    'request',
  );
}
