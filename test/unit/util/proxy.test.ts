import assert from 'node:assert/strict';
import { EnvironmentError } from '../../../src/config/section';
import { ProxySettings, proxyAuthorization } from '../../../src/util/proxy';

describe('util/proxy', () => {
  it('uses the configured proxy before HTTPS_PROXY, and nothing when neither is set', () => {
    assert.equal(ProxySettings.resolve('http://a:1', { HTTPS_PROXY: 'http://b:2' })?.for('https://x.example'), 'http://a:1/');
    assert.equal(ProxySettings.resolve(undefined, { https_proxy: 'http://b:2' })?.for('https://x.example'), 'http://b:2/');
    assert.equal(ProxySettings.resolve(undefined, {}), undefined);
  });

  it('honours NO_PROXY: names, domain suffixes, ports and *', () => {
    const proxy = ProxySettings.resolve('http://proxy:3128', { NO_PROXY: 'localhost, .internal.example, fcm.googleapis.com:8443,10.0.0.5' });
    assert.ok(proxy);
    assert.equal(proxy.for('https://api.push.apple.com/3/device/x'), 'http://proxy:3128/');
    assert.equal(proxy.for('http://localhost:8080'), undefined);
    assert.equal(proxy.for('https://push.internal.example'), undefined);
    assert.equal(proxy.for('https://internal.example'), undefined);
    assert.equal(proxy.for('https://notinternal.example'), 'http://proxy:3128/');
    assert.equal(proxy.for('https://fcm.googleapis.com'), 'http://proxy:3128/', 'port 443 is not 8443');
    assert.equal(proxy.for('https://fcm.googleapis.com:8443'), undefined);
    assert.equal(proxy.for('https://10.0.0.5'), undefined);
    assert.equal(ProxySettings.resolve('http://p:1', { no_proxy: '*' })?.for('https://anything'), undefined);
  });

  it('builds basic proxy credentials from the URL, decoding escapes', () => {
    assert.equal(proxyAuthorization(new URL('http://us%40er:p%3Ass@proxy:3128')), `Basic ${Buffer.from('us@er:p:ss').toString('base64')}`);
    assert.equal(proxyAuthorization(new URL('http://proxy:3128')), undefined);
  });
});

describe('util/proxy: bad proxy URLs', () => {
  it('an HTTPS_PROXY that is not an http:// URL is refused only where a connection would use it, naming the variable', () => {
    const proxy = ProxySettings.resolve(undefined, { HTTPS_PROXY: 'https://proxy.corp:3128', NO_PROXY: 'push.internal.example' });
    assert.ok(proxy);
    assert.match(proxy.problem ?? '', /^HTTPS_PROXY \(environment variable\): must be an http:\/\/ proxy URL/);
    // Bypassed by NO_PROXY: the variable does not matter there.
    assert.equal(proxy.for('https://push.internal.example/x'), undefined);
    assert.throws(
      () => proxy.for('https://api.push.apple.com'),
      (err: unknown) => err instanceof EnvironmentError && /^HTTPS_PROXY \(environment variable\): must be an http:\/\/ proxy URL/.test(err.problems[0] ?? ''),
    );
    assert.throws(() => ProxySettings.resolve(undefined, { https_proxy: 'not a url' })?.for('https://x.example'), /https_proxy \(environment variable\): is not a URL/);
    // Used by nothing else: HTTP_PROXY (every upstream is reached over TLS).
    assert.equal(ProxySettings.resolve(undefined, { HTTP_PROXY: 'not a url', http_proxy: 'ftp://x' }), undefined);
  });

  it('keeps credentials that are not valid percent-encoding as written', () => {
    assert.equal(proxyAuthorization(new URL('http://user:100%@proxy:3128')), `Basic ${Buffer.from('user:100%').toString('base64')}`);
  });
});
