import assert from 'node:assert/strict';
import { listenError, METRICS_LISTENER, NOTIFY_LISTENER } from '../../../src/util/listen';

/** An error as node:net reports a refused listen. */
function errno(code: string, message = `listen ${code}`): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

describe('util/listen: why a listener could not open', () => {
  const table: ReadonlyArray<readonly [string, string, number, RegExp]> = [
    ['EADDRINUSE', '127.0.0.1', 75, /another process is listening there/],
    ['EACCES', '0.0.0.0', 78, /permission denied \(a port below 1024 needs root or CAP_NET_BIND_SERVICE/],
    ['EADDRNOTAVAIL', '192.0.2.7', 78, /this host has no such address/],
    ['ENOTFOUND', 'push.invalid', 78, /no such host name/],
    ['EAFNOSUPPORT', '::1', 78, /does not support that address family/],
  ];
  for (const [code, host, exitCode, why] of table) {
    it(`${code}: exit ${exitCode}`, () => {
      const err = listenError(errno(code), host, 80, NOTIFY_LISTENER);
      assert.equal(err.exitCode, exitCode);
      assert.match(err.message, why);
      assert.ok(err.message.startsWith(`cannot listen on ${host === '::1' ? '[::1]' : host}:80 (http.bind_addresses, http.port): `), err.message);
      assert.ok(err.message.endsWith(`(${code})`));
      assert.doesNotMatch(err.message, /\n/);
    });
  }

  it('names the metrics settings for the metrics listener, and keeps the system message for an unexpected code', () => {
    const err = listenError(errno('EWEIRD', 'something odd'), '127.0.0.1', 8000, METRICS_LISTENER);
    assert.equal(err.message, 'cannot listen on 127.0.0.1:8000 (metrics.prometheus.address, metrics.prometheus.port): something odd (EWEIRD)');
    assert.equal(err.exitCode, 78);
  });
});
