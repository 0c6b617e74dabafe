import assert from 'node:assert/strict';
import { configProblems } from '../../helpers/config';
import { loadConfigText } from '../../../src/config/config';
import { BUILTIN_PUSHKIN_TYPES } from '../../../src/pushkins/registry';

function load(http: string) {
  return loadConfigText(`http: ${http}\napps: {a.b.c: {type: noop}}`, '/nonexistent-dir', BUILTIN_PUSHKIN_TYPES);
}

describe('config/config: listener limits and caller protection', () => {
  it('has documented defaults, and no caller protection', () => {
    const { http } = load('{}').config;
    assert.equal(http.requestTimeoutMs, 30_000);
    assert.equal(http.headersTimeoutMs, 10_000);
    assert.equal(http.keepAliveTimeoutMs, 65_000);
    assert.equal(http.maxConnections, 10_000);
    assert.equal(http.allowedCallers, undefined);
    assert.equal(http.rateLimit, undefined);
  });

  it('reads the timeouts and the connection cap', () => {
    const { http } = load('{request_timeout_ms: 5000, headers_timeout_ms: 2000, keep_alive_timeout_ms: 3000, max_connections: 50}').config;
    assert.deepEqual(
      [http.requestTimeoutMs, http.headersTimeoutMs, http.keepAliveTimeoutMs, http.maxConnections],
      [5_000, 2_000, 3_000, 50],
    );
  });

  it('refuses a headers timeout longer than the request timeout', () => {
    assert.deepEqual(configProblems(() => load('{request_timeout_ms: 5000, headers_timeout_ms: 6000}')), [
      'http.headers_timeout_ms: must not be more than request_timeout_ms (5000), which includes the headers',
    ]);
  });

  it('reads allowed_callers, naming each bad entry by its index', () => {
    assert.deepEqual(load("{allowed_callers: ['10.0.0.0/8', '::1']}").config.http.allowedCallers, [
      { address: '10.0.0.0', prefix: 8, family: 'ipv4' },
      { address: '::1', prefix: 128, family: 'ipv6' },
    ]);
    const problems = configProblems(() => load("{allowed_callers: ['10.0.0.0/8', 'synapse.example.org', '10.0.0.0/40']}"));
    assert.equal(problems.length, 2);
    assert.match(problems[0] ?? '', /^http\.allowed_callers\[1\]: "synapse\.example\.org" is not an IPv4 or IPv6 address/);
    assert.match(problems[1] ?? '', /^http\.allowed_callers\[2\]: the prefix length/);
  });

  it('trusts no proxy unless trusted_proxies lists it, naming each bad entry by its index', () => {
    assert.deepEqual(load('{}').config.http.trustedProxies, []);
    assert.deepEqual(load('{trusted_proxies: []}').config.http.trustedProxies, []);
    assert.deepEqual(load("{trusted_proxies: ['192.0.2.7', '2001:db8::/64']}").config.http.trustedProxies, [
      { address: '192.0.2.7', prefix: 32, family: 'ipv4' },
      { address: '2001:db8::', prefix: 64, family: 'ipv6' },
    ]);
    assert.deepEqual(configProblems(() => load("{trusted_proxies: ['proxy.example.org', '0.0.0.0/0', '::/0']}")), [
      'http.trusted_proxies[0]: "proxy.example.org" is not an IPv4 or IPv6 address',
      'http.trusted_proxies[1]: trusting every address would let any client choose the address Herald sees; list your reverse proxies',
      'http.trusted_proxies[2]: trusting every address would let any client choose the address Herald sees; list your reverse proxies',
    ]);
  });

  it("maps Sygnal's log.access.x_forwarded_for onto a proxy on this host, saying so; trusted_proxies wins", () => {
    const sygnal = loadConfigText('log: {access: {x_forwarded_for: true}}\napps: {a.b.c: {type: noop}}', '/nonexistent-dir', BUILTIN_PUSHKIN_TYPES);
    assert.deepEqual(sygnal.config.http.trustedProxies.map((n) => `${n.address}/${n.prefix}`), ['127.0.0.0/8', '::1/128']);
    assert.match(sygnal.warnings[0] ?? '', /^log\.access\.x_forwarded_for: Herald believes X-Forwarded-For only from a reverse proxy on this host/);
    const both = loadConfigText(
      "http: {trusted_proxies: ['10.1.2.3']}\nlog: {access: {x_forwarded_for: true}}\napps: {a.b.c: {type: noop}}",
      '/nonexistent-dir',
      BUILTIN_PUSHKIN_TYPES,
    );
    assert.deepEqual(both.config.http.trustedProxies.map((n) => n.address), ['10.1.2.3']);
    assert.deepEqual(both.warnings, ['log.access.x_forwarded_for: ignored: http.trusted_proxies says whose X-Forwarded-For is believed']);
    const off = loadConfigText('log: {access: {x_forwarded_for: false}}\napps: {a.b.c: {type: noop}}', '/nonexistent-dir', BUILTIN_PUSHKIN_TYPES);
    assert.deepEqual([off.config.http.trustedProxies, off.warnings], [[], []]);
  });

  it('refuses an empty allowed_callers (it would refuse everyone)', () => {
    assert.match(configProblems(() => load('{allowed_callers: []}'))[0] ?? '', /^http\.allowed_callers: an empty list/);
  });

  it('rate_limit: {} turns both limits on with their defaults; each can be set', () => {
    assert.deepEqual(load('{rate_limit: {}}').config.http.rateLimit, {
      perCaller: { perSecond: 500, burst: 5_000 },
      perPushkey: { perSecond: 5, burst: 50 },
    });
    assert.deepEqual(load('{rate_limit: {per_caller: {per_second: 10, burst: 20}, per_pushkey: {burst: 3}}}').config.http.rateLimit, {
      perCaller: { perSecond: 10, burst: 20 },
      perPushkey: { perSecond: 5, burst: 3 },
    });
    assert.deepEqual(configProblems(() => load('{rate_limit: {per_pushkey: {per_second: 0}}}')), [
      'http.rate_limit.per_pushkey.per_second: must be at least 1, got 0',
    ]);
  });
});
