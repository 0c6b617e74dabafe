import assert from 'node:assert/strict';
import { connectRefusal, verdictOf } from '../../../../src/pushkins/unifiedpush/reasons';

describe('pushkins/unifiedpush/reasons', () => {
  it('maps distributor status codes to outcomes', () => {
    const table: Array<[number, string]> = [
      [200, 'delivered'],
      [201, 'delivered'],
      [202, 'delivered'],
      [301, 'failed'],
      [307, 'failed'],
      [400, 'failed'],
      [401, 'rejected'],
      [402, 'rejected'],
      [403, 'rejected'],
      [404, 'rejected'],
      [408, 'retry'],
      [410, 'rejected'],
      [413, 'failed'],
      [429, 'retry'],
      [500, 'retry'],
      [503, 'retry'],
    ];
    for (const [status, kind] of table) assert.equal(verdictOf(status, undefined).outcome.kind, kind, String(status));
  });

  it('passes Retry-After on, and remembers only temporary failures', () => {
    assert.deepEqual(verdictOf(429, 3000).outcome, { kind: 'retry', reason: 'distributor answered 429', retryAfterMs: 3000 });
    assert.equal(verdictOf(503, undefined).remember, 'unavailable');
    assert.equal(verdictOf(404, undefined).remember, undefined);
  });

  it('tells connect-time refusals from failures that may pass, through error causes', () => {
    const coded = (code: string, message = code) => Object.assign(new Error(message), { code });
    const table: Array<[unknown, string | undefined]> = [
      [coded('HERALD_ENDPOINT_REFUSED'), 'private_address'],
      [coded('ENOTFOUND'), 'unreachable'],
      [coded('EAI_AGAIN'), undefined],
      [coded('DEPTH_ZERO_SELF_SIGNED_CERT'), 'unreachable'],
      [coded('ERR_TLS_CERT_ALTNAME_INVALID'), 'unreachable'],
      [coded('CERT_HAS_EXPIRED'), 'unreachable'],
      [coded('ERR_SSL_WRONG_VERSION_NUMBER'), 'unreachable'],
      [coded('ERR_TLS_HANDSHAKE_TIMEOUT'), undefined],
      [coded('ECONNREFUSED'), undefined],
      [coded('UND_ERR_CONNECT_TIMEOUT'), undefined],
      [new Error('wrapped', { cause: coded('ENOTFOUND') }), 'unreachable'],
      ['not an error', undefined],
    ];
    for (const [err, refusal] of table) assert.equal(connectRefusal(err)?.refusal, refusal, String(err instanceof Error ? (err as { code?: string }).code ?? err.message : err));
  });
});
