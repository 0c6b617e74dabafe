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

/** The one access line per request. */
export function logAccess(
  log: Logger,
  req: IncomingMessage,
  status: number,
  startedNs: bigint,
  requestId: string,
  xForwardedFor: boolean,
): void {
  if (!log.isLevelEnabled('info')) return;
  log.info(
    {
      request_id: requestId,
      method: req.method,
      path: (req.url ?? '/').split('?')[0],
      status,
      duration_ms: Math.round(Number(process.hrtime.bigint() - startedNs) / 1e5) / 10,
      client: clientAddress(req, xForwardedFor),
    },
    'request',
  );
}
