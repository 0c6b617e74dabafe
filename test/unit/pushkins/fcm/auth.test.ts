import assert from 'node:assert/strict';
import { createPrivateKey, verify } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { AccessTokenSource, FCM_SCOPE, signAssertion, TokenError } from '../../../../src/pushkins/fcm/auth';
import type { Upstream, UpstreamResponse } from '../../../../src/pushkins/fcm/client';
import type { ServiceAccount } from '../../../../src/pushkins/fcm/config';
import type { Clock } from '../../../../src/util/clock';
import { createLogger } from '../../../../src/util/log';
import { testKeys } from '../../../helpers/fcm-mock';

function account(): ServiceAccount {
  return {
    clientEmail: 'sa@proj.iam.gserviceaccount.com',
    privateKey: createPrivateKey(testKeys().privateKeyPem),
    privateKeyId: 'kid-1',
    tokenUri: 'https://auth.example.test/oauth/token?x=1',
  };
}

/** A token endpoint answering from a list, whose answers the test releases by hand. */
class FakeTokenEndpoint {
  readonly requests: Array<{ path: string; body: string; release: (r: UpstreamResponse | Error) => void }> = [];

  asUpstream(): Upstream {
    return {
      post: (path: string, _headers: Record<string, string>, body: string) =>
        new Promise<UpstreamResponse>((resolve, reject) => {
          this.requests.push({ path, body, release: (r) => (r instanceof Error ? reject(r) : resolve(r)) });
        }),
    } as unknown as Upstream;
  }

  answer(index: number, status: number, body: object, headers: Record<string, string> = {}): void {
    this.requests[index]?.release({ status, headers, body: JSON.stringify(body) });
  }
}

function fakeClock(start = 1_700_000_000_000): Clock & { advance(ms: number): void } {
  let now = start;
  return { now: () => now, sleep: async () => {}, advance: (ms) => (now += ms) };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
const silent = createLogger('silent');

describe('pushkins/fcm/auth', () => {
  it('signs an RS256 assertion for the token_uri with the FCM scope', () => {
    const jwt = signAssertion(account(), 1_700_000_000_500);
    const [h, c, s] = jwt.split('.') as [string, string, string];
    assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url').toString()), { alg: 'RS256', typ: 'JWT', kid: 'kid-1' });
    assert.deepEqual(JSON.parse(Buffer.from(c, 'base64url').toString()), {
      iss: 'sa@proj.iam.gserviceaccount.com',
      scope: FCM_SCOPE,
      aud: 'https://auth.example.test/oauth/token?x=1',
      iat: 1_700_000_000,
      exp: 1_700_003_600,
    });
    assert.ok(verify('sha256', Buffer.from(`${h}.${c}`), testKeys().publicKey, Buffer.from(s, 'base64url')));
  });

  it('one request for many waiting callers, cached until the refresh margin, then one more', async () => {
    const endpoint = new FakeTokenEndpoint();
    const clock = fakeClock();
    const source = new AccessTokenSource(account(), endpoint.asUpstream(), clock, silent);
    const signal = new AbortController().signal;
    setMaxListeners(0, signal); // as the FCM pushkin does for a notification's shared signal
    const waiting = Array.from({ length: 50 }, () => source.get(signal));
    await tick();
    assert.equal(endpoint.requests.length, 1);
    assert.equal(endpoint.requests[0]?.path, '/oauth/token?x=1');
    const form = new URLSearchParams(endpoint.requests[0]?.body);
    assert.equal(form.get('grant_type'), 'urn:ietf:params:oauth:grant-type:jwt-bearer');
    endpoint.answer(0, 200, { access_token: 'tok-1', expires_in: 3600 });
    assert.deepEqual(new Set(await Promise.all(waiting)), new Set(['tok-1']));

    clock.advance(54 * 60_000); // still more than 5 minutes left: cached
    assert.equal(await source.get(signal), 'tok-1');
    assert.equal(endpoint.requests.length, 1);

    clock.advance(2 * 60_000); // inside the 5-minute margin: renewed before it expires
    const renewing = [source.get(signal), source.get(signal)];
    await tick();
    assert.equal(endpoint.requests.length, 2);
    endpoint.answer(1, 200, { access_token: 'tok-2', expires_in: 3600 });
    assert.deepEqual(await Promise.all(renewing), ['tok-2', 'tok-2']);
  });

  it('keeps using a still-valid token when its renewal fails', async () => {
    const endpoint = new FakeTokenEndpoint();
    const clock = fakeClock();
    const source = new AccessTokenSource(account(), endpoint.asUpstream(), clock, silent);
    const signal = new AbortController().signal;
    const first = source.get(signal);
    await tick();
    endpoint.answer(0, 200, { access_token: 'tok-1', expires_in: 3600 });
    await first;
    clock.advance(58 * 60_000);
    const again = source.get(signal);
    await tick();
    endpoint.answer(1, 503, { error: 'unavailable' });
    assert.equal(await again, 'tok-1');
  });

  it('classifies failures: 5xx/429 retry (with Retry-After), invalid_grant misconfigured, unreachable retry', async () => {
    const cases: Array<[(e: FakeTokenEndpoint) => void, string, number | undefined]> = [
      [(e) => e.answer(0, 503, {}, { 'retry-after': '3' }), 'retry', 3000],
      [(e) => e.answer(0, 429, {}), 'retry', undefined],
      [(e) => e.answer(0, 400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' }), 'misconfigured', undefined],
      [(e) => e.answer(0, 404, {}), 'misconfigured', undefined],
      [(e) => e.requests[0]?.release(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), 'retry', undefined],
      [(e) => e.answer(0, 200, { token_type: 'Bearer' }), 'retry', undefined],
    ];
    for (const [respond, kind, retryAfterMs] of cases) {
      const endpoint = new FakeTokenEndpoint();
      const source = new AccessTokenSource(account(), endpoint.asUpstream(), fakeClock(), silent);
      const pending = source.get(new AbortController().signal);
      await tick();
      respond(endpoint);
      await assert.rejects(pending, (err: unknown) => {
        assert.ok(err instanceof TokenError);
        assert.equal(err.kind, kind);
        assert.equal(err.retryAfterMs, retryAfterMs);
        return true;
      });
    }
  });

  it('a caller whose deadline passes stops waiting; the refresh still serves the others', async () => {
    const endpoint = new FakeTokenEndpoint();
    const source = new AccessTokenSource(account(), endpoint.asUpstream(), fakeClock(), silent);
    const impatient = new AbortController();
    const a = source.get(impatient.signal);
    const b = source.get(new AbortController().signal);
    await tick();
    impatient.abort(new Error('deadline'));
    await assert.rejects(a, /deadline/);
    endpoint.answer(0, 200, { access_token: 'tok-1', expires_in: 3600 });
    assert.equal(await b, 'tok-1');
    assert.equal(endpoint.requests.length, 1);
  });

  it('invalidate() forgets a refused token', async () => {
    const endpoint = new FakeTokenEndpoint();
    const source = new AccessTokenSource(account(), endpoint.asUpstream(), fakeClock(), silent);
    const signal = new AbortController().signal;
    const first = source.get(signal);
    await tick();
    endpoint.answer(0, 200, { access_token: 'tok-1', expires_in: 3600 });
    source.invalidate(await first);
    const second = source.get(signal);
    await tick();
    endpoint.answer(1, 200, { access_token: 'tok-2', expires_in: 3600 });
    assert.equal(await second, 'tok-2');
  });
});
