import assert from 'node:assert/strict';
import { expectationError, protocolError, serverOptions, TIMEOUT_CHECK_INTERVAL_MS } from '../../../src/http/protocol';

const settings = { requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 65_000, maxConnections: 10 };

describe('http/protocol', () => {
  const cases: Array<[string, { code?: string; reason?: string }, number, string, RegExp]> = [
    ['headers too large', { code: 'HPE_HEADER_OVERFLOW', reason: 'Header overflow' }, 431, 'M_TOO_LARGE', /headers/],
    ['a timeout', { code: 'ERR_HTTP_REQUEST_TIMEOUT' }, 408, 'M_UNKNOWN', /headers within 10000 ms, the whole request within 30000 ms/],
    ['a bad Content-Length', { code: 'HPE_INVALID_CONTENT_LENGTH', reason: 'Invalid character in Content-Length' }, 400, 'M_UNKNOWN', /malformed HTTP request: Invalid character in Content-Length/],
    ['a parser error without a reason', { code: 'HPE_SOMETHING' }, 400, 'M_UNKNOWN', /HPE_SOMETHING/],
    ['nothing known at all', {}, 400, 'M_UNKNOWN', /unknown parse error/],
  ];
  for (const [name, err, status, errcode, message] of cases) {
    it(`${name} → ${status} ${errcode}`, () => {
      const error = protocolError(err, settings);
      assert.equal(error.status, status);
      assert.equal(error.errcode, errcode);
      assert.match(error.message, message);
    });
  }

  it('an unknown Expect → 417 naming the header and its value', () => {
    const error = expectationError('200-ok');
    assert.deepEqual([error.status, error.errcode, error.message], [417, 'M_UNKNOWN', 'Expect: only "100-continue" is supported, got "200-ok"']);
  });

  it('hands the settings to Node, with timeouts checked often enough to be honoured within a second', () => {
    assert.deepEqual(serverOptions(settings), {
      requestTimeout: 30_000,
      headersTimeout: 10_000,
      keepAliveTimeout: 65_000,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    });
    assert.ok(TIMEOUT_CHECK_INTERVAL_MS < 1_000);
  });
});
