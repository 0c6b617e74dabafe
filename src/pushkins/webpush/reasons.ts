import type { DispatchOutcome } from '../pushkin';

/** A push service's answer → the device's outcome, the log line it deserves, and what to count. Pure. */
export interface AnswerVerdict {
  readonly outcome: DispatchOutcome;
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  /** Set when Herald's own configuration is at fault: the `reason` label of the configuration-errors counter. */
  readonly configurationError?: string;
}

/**
 * RFC 8030 / 8292 status codes as push services use them (RFC 8030, RFC 8292). Only 404 and 410
 * say the subscription is gone; 401/403 refuse our VAPID key or claims, never the user's
 * subscription; 413 refuses this message only.
 */
export function verdictOf(status: number, retryAfterMs: number | undefined): AnswerVerdict {
  const what = `push service answered ${status}`;
  if (status >= 200 && status < 300) return { outcome: { kind: 'delivered' }, level: 'debug' };
  if (status === 404 || status === 410) {
    return { outcome: { kind: 'rejected', reason: `${what}: subscription expired or unsubscribed` }, level: 'info' };
  }
  if (status === 401 || status === 403) {
    return {
      outcome: { kind: 'misconfigured', reason: `${what}: the push service refused Herald's VAPID authorization (key or contact)` },
      level: 'error',
      configurationError: `VAPID_${status}`,
    };
  }
  if (status === 413) return { outcome: { kind: 'failed', reason: `${what}: message too large` }, level: 'warn' };
  if (status === 408 || status === 429 || status >= 500) {
    return {
      outcome: { kind: 'retry', reason: what, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) },
      level: 'warn',
    };
  }
  return { outcome: { kind: 'failed', reason: `${what}: message refused` }, level: 'warn' };
}
