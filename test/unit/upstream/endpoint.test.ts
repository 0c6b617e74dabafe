import assert from 'node:assert/strict';
import { checkEndpoint, endpointPatterns, isPublicAddress, publicOnlyLookup, EndpointRefusedError } from '../../../src/upstream/endpoint';

describe('upstream/endpoint', () => {
  const open = { allowPrivate: false };

  it('allowed_endpoints globs match the whole host[:port], case-insensitively', () => {
    const policy = { allowPrivate: false, allowed: endpointPatterns(['*.push.services.mozilla.com', 'fcm.googleapis.com', 'push.example.com:8443']) };
    const kind = (endpoint: string) => {
      const check = checkEndpoint(endpoint, policy);
      return check.kind === 'refused' ? check.refusal : check.kind;
    };
    assert.equal(kind('https://updates.push.services.mozilla.com/wpush/v2/x'), 'ok');
    assert.equal(kind('https://UPDATES.Push.Services.Mozilla.com/wpush/v2/x'), 'ok');
    assert.equal(kind('https://fcm.googleapis.com/fcm/send/x'), 'ok');
    assert.equal(kind('https://fcm.googleapis.com:443/fcm/send/x'), 'ok', 'the default port is not part of host');
    assert.equal(kind('https://fcm.googleapis.com.evil.net/x'), 'not_allowed', 'anchored at the end');
    assert.equal(kind('https://evilfcm.googleapis.com/x'), 'not_allowed', 'anchored at the start');
    assert.equal(kind('https://push.example.com:8443/x'), 'ok');
    assert.equal(kind('https://push.example.com/x'), 'not_allowed');
  });

  it('no allowed_endpoints: any public https host', () => {
    assert.equal(checkEndpoint('https://web.push.apple.com/QGx', open).kind, 'ok');
    assert.equal(checkEndpoint('https://93.184.216.34/x', open).kind, 'ok');
  });

  it('an endpoint that can never be a push service is invalid (the pushkey is rejected)', () => {
    for (const endpoint of ['not a url', 'http://push.example.com/x', 'ftp://push.example.com/x', 'https://user:pass@push.example.com/x']) {
      assert.equal(checkEndpoint(endpoint, open).kind, 'invalid', endpoint);
    }
  });

  it('plain http only for hosts allowed_endpoints names, when the policy accepts it (UnifiedPush); reasons name the field', () => {
    const policy = { allowPrivate: false, httpWhenAllowed: true, allowed: endpointPatterns(['ntfy.internal.example']) };
    assert.equal(checkEndpoint('http://ntfy.internal.example/upAbc?up=1', policy, 'pushkey').kind, 'ok');
    const other = checkEndpoint('http://ntfy.sh/upAbc?up=1', policy, 'pushkey');
    assert.equal(other.kind, 'invalid');
    assert.match(other.kind === 'invalid' ? other.reason : '', /^pushkey must be an https URL/);
    assert.equal(checkEndpoint('http://ntfy.sh/upAbc?up=1', { allowPrivate: false, httpWhenAllowed: true }).kind, 'invalid', 'no allowed_endpoints: https only');
    assert.equal(checkEndpoint('http://ntfy.internal.example/x', { ...policy, httpWhenAllowed: false }).kind, 'invalid');
  });

  it('IP literals that are not public are refused unless allow_private_endpoints', () => {
    for (const endpoint of ['https://127.0.0.1/x', 'https://10.1.2.3/x', 'https://169.254.169.254/latest', 'https://[::1]/x', 'https://[fd00::1]/x', 'https://[::ffff:127.0.0.1]/x', 'https://0.0.0.0/x']) {
      const check = checkEndpoint(endpoint, open);
      assert.equal(check.kind === 'refused' && check.refusal, 'private_address', endpoint);
      assert.equal(checkEndpoint(endpoint, { allowPrivate: true }).kind, 'ok', endpoint);
    }
  });

  it('isPublicAddress', () => {
    const table: Array<[string, boolean]> = [
      ['8.8.8.8', true],
      ['2001:4860:4860::8888', true],
      ['127.0.0.1', false],
      ['10.0.0.1', false],
      ['172.16.0.1', false],
      ['172.32.0.1', true],
      ['192.168.1.1', false],
      ['100.64.0.1', false],
      ['169.254.169.254', false],
      ['224.0.0.1', false],
      ['255.255.255.255', false],
      ['::', false],
      ['::1', false],
      ['fe80::1', false],
      ['fc00::1', false],
      ['::ffff:10.0.0.1', false],
      ['not an address', false],
    ];
    for (const [address, expected] of table) assert.equal(isPublicAddress(address), expected, address);
  });

  it('the connect-time lookup refuses a name that resolves to loopback', async () => {
    const error = await new Promise((resolve) => publicOnlyLookup('localhost', {}, (err) => resolve(err)));
    assert.ok(error instanceof EndpointRefusedError);
  });
});
