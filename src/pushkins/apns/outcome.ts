import type { DispatchOutcome } from '../pushkin';
import type { ApnsAnswer } from './provider';
import { classifyAnswer } from './reasons';

/**
 * One APNs answer → the device's outcome, with the log line it deserves and, for our
 * own misconfiguration, the reason to count. Pure, so the pushkin only carries it out.
 */
export interface AnswerVerdict {
  readonly outcome: DispatchOutcome;
  readonly log: { readonly level: 'debug' | 'info' | 'warn' | 'error'; readonly msg: string; readonly fields: Record<string, unknown> };
  /** Set when Herald's configuration is at fault: the `reason` label of herald_configuration_errors. */
  readonly configurationError?: string;
}

export interface AnswerContext {
  /** 0 for the first attempt. */
  readonly attempt: number;
  /** Token auth: node-apn renews the JWT when Apple calls it expired. */
  readonly tokenAuth: boolean;
}

export function verdictOf(answer: ApnsAnswer, ctx: AnswerContext): AnswerVerdict {
  if (answer.kind === 'no-answer') {
    return {
      outcome: { kind: 'retry', reason: `no answer from APNs: ${answer.error}` },
      log: { level: 'warn', msg: 'no answer from APNs', fields: { error: answer.error } },
    };
  }
  const { status, reason } = answer;
  if (status === 200) return { outcome: { kind: 'delivered' }, log: { level: 'debug', msg: 'accepted by APNs', fields: {} } };

  const what = `APNs answered ${status}${reason !== undefined ? ` ${reason}` : ''}`;
  const fields = { status, reason };
  const { verdict, known } = classifyAnswer(status, reason);
  switch (verdict) {
    case 'rejected':
      return {
        outcome: { kind: 'rejected', reason: what },
        log: {
          level: 'info',
          msg:
            reason === 'BadDeviceToken'
              ? `rejecting pushkey: ${what} (if every token fails so, check \`platform\`: sandbox and production tokens differ)`
              : `rejecting pushkey: ${what}`,
          fields,
        },
      };
    case 'misconfigured':
      // node-apn makes a new JWT on ExpiredProviderToken; one more try uses it. node-apn
      // reports that answer as a 403 without its reason, so any such 403 gets the one try.
      if (status === 403 && (reason === undefined || reason === 'ExpiredProviderToken') && ctx.attempt === 0 && ctx.tokenAuth) {
        return {
          outcome: { kind: 'retry', reason: what, retryAfterMs: 0 },
          log: { level: 'warn', msg: `${what}: retrying once with a fresh provider token`, fields },
        };
      }
      return {
        outcome: { kind: 'misconfigured', reason: what },
        log: { level: 'error', msg: `${what}: Herald's APNs configuration (credentials, topic or push_type) is wrong; the pushkey is kept`, fields },
        configurationError: reason ?? String(status),
      };
    // node-apn does not report Retry-After: the retry policy's own backoff applies.
    case 'retry':
      return {
        outcome: { kind: 'retry', reason: what },
        log: { level: 'warn', msg: `${what}: will retry`, fields },
      };
    case 'failed':
      return {
        outcome: { kind: 'failed', reason: what },
        log: { level: 'warn', msg: `${what}: this message cannot be sent; the pushkey is kept`, fields: { ...fields, known } },
      };
  }
}
