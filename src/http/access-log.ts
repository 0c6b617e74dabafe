import { randomBytes } from 'node:crypto';
import type { Request } from 'express';
import type { Logger } from '../util/log';

/** Short ids for requests, unique per process: a random prefix and a counter. */
export function requestIds(): () => string {
  const prefix = randomBytes(3).toString('hex');
  let counter = 0;
  return () => `${prefix}-${(counter++).toString(36)}`;
}

/**
 * Paths whose access lines are logged at debug: health probes come every few seconds
 * and say nothing (Sygnal logs them at debug too).
 */
const QUIET_PATHS = new Set(['/health']);

/** The one access line per request: at info, or debug for health probes. */
export function logAccess(
  log: Logger,
  req: Request,
  status: number,
  startedNs: bigint,
  requestId: string,
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
      // The caller as the allow-list and rate limits see it (Express's trust proxy, http.trusted_proxies).
      client: req.ip,
    },
    'request',
  );
}
