import assert from 'node:assert/strict';
import { verdictOf } from '../../../../src/pushkins/webpush/reasons';

describe('pushkins/webpush/reasons', () => {
  const table: Array<[number, string, string | undefined]> = [
    [200, 'delivered', undefined],
    [201, 'delivered', undefined],
    [202, 'delivered', undefined],
    [404, 'rejected', undefined],
    [410, 'rejected', undefined],
    [401, 'misconfigured', 'VAPID_401'],
    [403, 'misconfigured', 'VAPID_403'],
    [413, 'failed', undefined],
    [400, 'failed', undefined],
    [408, 'retry', undefined],
    [429, 'retry', undefined],
    [500, 'retry', undefined],
    [503, 'retry', undefined],
  ];
  for (const [status, kind, label] of table) {
    it(`${status} → ${kind}`, () => {
      const verdict = verdictOf(status, undefined);
      assert.equal(verdict.outcome.kind, kind);
      assert.equal(verdict.configurationError, label);
    });
  }

  it('a retry carries the Retry-After it was given', () => {
    assert.deepEqual(verdictOf(429, 2000).outcome, { kind: 'retry', reason: 'push service answered 429', retryAfterMs: 2000 });
    assert.equal('retryAfterMs' in verdictOf(503, undefined).outcome, false);
  });
});
