import type { RequestHandler } from 'express';
import { CallerAllowList, type Cidr } from '../guard/callers';
import { TokenBuckets, type BucketLimit } from '../guard/token-bucket';
import type { Metrics } from '../metrics/metrics';
import type { NotifyRequestBody } from '../notification/normalize';
import type { Clock } from '../util/clock';
import { MatrixError, RateLimitedError } from './errors';

/** Buckets kept per limit; past this, full then oldest buckets are forgotten (see TokenBuckets). */
export const RATE_LIMIT_MAX_KEYS = 100_000;

export interface CallerGuardOptions {
  readonly allowedCallers?: readonly Cidr[];
  readonly rateLimit?: { readonly perCaller: BucketLimit; readonly perPushkey: BucketLimit };
  readonly metrics: Metrics;
  readonly clock: Clock;
}

/**
 * Optional caller protection for the notify endpoint, off unless configured:
 * `callers` runs before the body is read (403 outside `http.allowed_callers`, 429 past
 * the per-caller rate); `pushkeys` runs once the body is validated (429 past the
 * per-pushkey rate, all of the request's pushkeys or none). Both are no-ops when unset.
 */
export function callerGuard(options: CallerGuardOptions): { callers: RequestHandler[]; pushkeys: RequestHandler[] } {
  const { metrics, clock } = options;
  const callers: RequestHandler[] = [];
  const pushkeys: RequestHandler[] = [];

  if (options.allowedCallers !== undefined) {
    const allowList = new CallerAllowList(options.allowedCallers);
    callers.push((req, _res, next) => {
      // Express's req.ip: the socket's peer, or behind http.trusted_proxies the address the nearest of them saw.
      const address = req.ip;
      if (allowList.allows(address)) {
        next();
        return;
      }
      metrics.callersRefused.labels('not_allowed').inc();
      next(new MatrixError(403, 'M_FORBIDDEN', `this push gateway does not accept notifications from ${address ?? 'an unknown address'}`));
    });
  }

  if (options.rateLimit !== undefined) {
    const perCaller = new TokenBuckets(options.rateLimit.perCaller, RATE_LIMIT_MAX_KEYS);
    const perPushkey = new TokenBuckets(options.rateLimit.perPushkey, RATE_LIMIT_MAX_KEYS);
    callers.push((req, _res, next) => {
      const address = req.ip ?? 'unknown';
      const taken = perCaller.take([address], clock.now());
      if (taken.ok) {
        next();
        return;
      }
      metrics.callersRefused.labels('caller_rate').inc();
      next(new RateLimitedError(`too many requests from ${address}`, taken.retryAfterMs));
    });
    pushkeys.push((req, _res, next) => {
      const devices = (req.body as NotifyRequestBody).notification.devices;
      const keys = [...new Set(devices.map((device) => `${device.app_id}\u0000${device.pushkey}`))];
      const taken = perPushkey.take(keys, clock.now());
      if (taken.ok) {
        next();
        return;
      }
      metrics.callersRefused.labels('pushkey_rate').inc();
      next(new RateLimitedError('too many notifications for a pushkey of this request', taken.retryAfterMs));
    });
  }
  return { callers, pushkeys };
}
