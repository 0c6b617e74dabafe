import assert from 'node:assert/strict';
import { verdictOf, type AnswerContext } from '../../../../src/pushkins/apns/outcome';
import type { ApnsAnswer } from '../../../../src/pushkins/apns/provider';

const first: AnswerContext = { attempt: 0, tokenAuth: true };

function answer(status: number, reason?: string): ApnsAnswer {
  return { kind: 'answer', apnsId: 'id', status, ...(reason !== undefined ? { reason } : {}) };
}

describe('pushkins/apns/outcome', () => {
  it('200 is delivered', () => {
    assert.deepEqual(verdictOf(answer(200), first).outcome, { kind: 'delivered' });
  });

  it('no answer (timeout, connection error) is retried', () => {
    const verdict = verdictOf({ kind: 'no-answer', apnsId: 'id', error: 'apn write timeout' }, first);
    assert.deepEqual(verdict.outcome, { kind: 'retry', reason: 'no answer from APNs: apn write timeout' });
    assert.equal(verdict.log.level, 'warn');
  });

  it('a dead token is rejected, with a hint about sandbox and production for BadDeviceToken', () => {
    const verdict = verdictOf(answer(400, 'BadDeviceToken'), first);
    assert.deepEqual(verdict.outcome, { kind: 'rejected', reason: 'APNs answered 400 BadDeviceToken' });
    assert.match(verdict.log.msg, /sandbox and production tokens differ/);
    assert.equal(verdict.configurationError, undefined);
  });

  it('our misconfiguration is logged at error level and counted by reason, never rejected', () => {
    const verdict = verdictOf(answer(400, 'TopicDisallowed'), first);
    assert.deepEqual(verdict.outcome, { kind: 'misconfigured', reason: 'APNs answered 400 TopicDisallowed' });
    assert.equal(verdict.log.level, 'error');
    assert.equal(verdict.configurationError, 'TopicDisallowed');
    assert.equal(verdictOf(answer(403), { ...first, attempt: 1 }).configurationError, '403', 'a 403 without a reason is counted by its status');
  });

  it('ExpiredProviderToken is retried once at once with token auth, then counts as misconfiguration', () => {
    assert.deepEqual(verdictOf(answer(403, 'ExpiredProviderToken'), first).outcome, { kind: 'retry', reason: 'APNs answered 403 ExpiredProviderToken', retryAfterMs: 0 });
    assert.equal(verdictOf(answer(403, 'ExpiredProviderToken'), { ...first, attempt: 1 }).outcome.kind, 'misconfigured');
    assert.equal(verdictOf(answer(403, 'ExpiredProviderToken'), { ...first, tokenAuth: false }).outcome.kind, 'misconfigured');
  });

  it('a 403 without its reason (how node-apn reports ExpiredProviderToken) gets the same one try', () => {
    assert.deepEqual(verdictOf(answer(403), first).outcome, { kind: 'retry', reason: 'APNs answered 403', retryAfterMs: 0 });
    assert.deepEqual(verdictOf(answer(403), { ...first, attempt: 1 }).outcome, { kind: 'misconfigured', reason: 'APNs answered 403' });
    assert.equal(verdictOf(answer(403), { ...first, tokenAuth: false }).outcome.kind, 'misconfigured');
    assert.equal(verdictOf(answer(403, 'InvalidProviderToken'), first).outcome.kind, 'misconfigured', 'a reported reason is taken as it is');
  });

  it('temporary failures are retried on the retry policy\'s backoff (node-apn reports no Retry-After)', () => {
    assert.deepEqual(verdictOf(answer(429, 'TooManyRequests'), first).outcome, { kind: 'retry', reason: 'APNs answered 429 TooManyRequests' });
    assert.deepEqual(verdictOf(answer(503, 'ServiceUnavailable'), first).outcome, { kind: 'retry', reason: 'APNs answered 503 ServiceUnavailable' });
  });

  it('a bad message fails without rejecting the pushkey', () => {
    assert.deepEqual(verdictOf(answer(413, 'PayloadTooLarge'), first).outcome, { kind: 'failed', reason: 'APNs answered 413 PayloadTooLarge' });
  });
});
