import type { Clock } from '../util/clock';
import type { DispatchContext, DispatchOutcome, PushkinEnv } from './pushkin';

/** How a pushkin retries temporary failures within one notify request. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  /** Backoff before the second attempt; doubles each time, with jitter. */
  readonly baseDelayMs: number;
  /** Upper bound on one backoff (a longer Retry-After ends the retries instead). */
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 4, baseDelayMs: 200, maxDelayMs: 5_000 };

/**
 * A Retry-After header in milliseconds: delta-seconds or an HTTP date (a date past means
 * now); undefined when absent or unreadable. Of a repeated header the first counts.
 */
export function parseRetryAfter(header: string | string[] | undefined, now: number): number | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (value === undefined || value === '') return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Exponential backoff with "equal jitter": half fixed, half random, so retries spread out. */
export function backoffMs(policy: RetryPolicy, retryNumber: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retryNumber);
  return ceiling / 2 + random() * (ceiling / 2);
}

export interface RetryHooks {
  /** Called before each retry's wait. */
  onRetry?(outcome: DispatchOutcome & { kind: 'retry' }, delayMs: number): void;
  /** Called when a retry would end past the deadline, so the device is given up on. */
  onDeadline?(outcome: DispatchOutcome & { kind: 'retry' }): void;
}

/**
 * The hooks of a pushkin's sends: each retry counted and logged, and a device given up on
 * counted as past its deadline and logged. `what` names the send in the log lines
 * ("FCM send"); `fields` go on each line.
 */
export function sendRetryHooks(env: PushkinEnv, ctx: DispatchContext, what: string, fields: Record<string, unknown> = {}): RetryHooks {
  return {
    onRetry: (outcome, delayMs) => {
      env.metrics.retries.labels(env.name).inc();
      ctx.log.info({ ...fields, reason: outcome.reason, delay_ms: Math.round(delayMs) }, `retrying ${what}`);
    },
    onDeadline: (outcome) => {
      // Once the signal has aborted, the dispatcher has already counted this device.
      if (!ctx.signal.aborted) env.metrics.deadlineExceeded.labels(env.name).inc();
      ctx.log.warn({ ...fields, reason: outcome.reason }, `${what} given up for now; the homeserver will retry`);
    },
  };
}

/**
 * Runs `attempt` until it returns anything but `retry`, the attempts run out, or the next
 * wait would end past the request's deadline. A Retry-After longer than `maxDelayMs` or
 * than the time left is passed back to the homeserver instead of waited for here.
 */
export async function withRetries(
  attempt: (attemptNumber: number) => Promise<DispatchOutcome>,
  policy: RetryPolicy,
  ctx: DispatchContext,
  clock: Clock,
  hooks: RetryHooks = {},
): Promise<DispatchOutcome> {
  for (let attemptNumber = 0; ; attemptNumber++) {
    const outcome = await attempt(attemptNumber);
    if (outcome.kind !== 'retry' || attemptNumber + 1 >= policy.maxAttempts) return outcome;
    const wait = outcome.retryAfterMs ?? backoffMs(policy, attemptNumber);
    if (wait > policy.maxDelayMs || clock.now() + wait >= ctx.deadline || ctx.signal.aborted) {
      hooks.onDeadline?.(outcome);
      return outcome;
    }
    hooks.onRetry?.(outcome, wait);
    try {
      await clock.sleep(wait, ctx.signal);
    } catch {
      hooks.onDeadline?.(outcome);
      return outcome;
    }
  }
}
