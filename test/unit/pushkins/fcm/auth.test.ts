import assert from 'node:assert/strict';
import { setMaxListeners } from 'node:events';
import { writeFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gcpMetadata } from 'google-auth-library';
import { loadConfigText } from '../../../../src/config/config';
import { AccessTokenSource, FCM_SCOPE, signIn, type SignIn } from '../../../../src/pushkins/fcm/auth';
import type { FcmConfig } from '../../../../src/pushkins/fcm/config';
import { GoogleTransport } from '../../../../src/pushkins/fcm/google-transport';
import { TokenError } from '../../../../src/pushkins/fcm/reasons';
import { BUILTIN_PUSHKIN_TYPES } from '../../../../src/pushkins/registry';
import { createLogger } from '../../../../src/util/log';
import { FcmMock, noAmbientCredentials, testKeys, type Answer } from '../../../upstreams/fcm-mock';
import { tempDir } from '../../../upstreams/temp';

const APP = 'com.example.android';
const silent = createLogger('silent');

describe('pushkins/fcm/auth (google-auth-library against the mock token endpoint)', function () {
  this.timeout(20_000);
  let mock: FcmMock;
  const transports: GoogleTransport[] = [];

  before(() => testKeys());
  beforeEach(async () => {
    mock = await FcmMock.start();
  });
  afterEach(async () => {
    await Promise.all(transports.splice(0).map((transport) => transport.close()));
    await mock.close();
  });

  function config(credentials: 'file' | 'adc' = 'file', serviceAccountFile = mock.serviceAccountFile): FcmConfig {
    const app = mock.appYaml(APP, '', credentials).replace(mock.serviceAccountFile, serviceAccountFile);
    return loadConfigText(`apps:\n${app}\n`, process.cwd(), BUILTIN_PUSHKIN_TYPES).config.apps[0]?.settings as FcmConfig;
  }

  async function signedIn(fcm: FcmConfig = config()): Promise<{ credentials: SignIn; tokens: AccessTokenSource }> {
    const transport = new GoogleTransport({ timeoutMs: 5_000, proxyFor: () => undefined });
    transports.push(transport);
    const credentials = await signIn(APP, fcm, transport);
    return { credentials, tokens: new AccessTokenSource(credentials.client, silent) };
  }

  /** A copy of the mock's service account with other fields. */
  function accountFile(overrides: Record<string, unknown>): string {
    const file = join(tempDir('fcm-sa'), 'service-account.json');
    writeFileSync(file, JSON.stringify({ ...(JSON.parse(readFileSync(mock.serviceAccountFile, 'utf8')) as object), ...overrides }));
    return file;
  }

  const live = () => new AbortController().signal;

  describe('service_account_file', () => {
    it('one token request for many waiting callers, to the file\'s token_uri, signed by the key for the FCM scope; then cached', async () => {
      const { credentials, tokens } = await signedIn();
      assert.equal(credentials.source, `service account file ${mock.serviceAccountFile}`);
      assert.equal(await credentials.account(), mock.clientEmail);
      const signal = live();
      setMaxListeners(0, signal); // as the FCM pushkin does for a notification's shared signal
      const got = await Promise.all(Array.from({ length: 50 }, () => tokens.get(signal)));
      assert.equal(new Set(got).size, 1);
      assert.equal(mock.tokenRequests.length, 1, 'one request shared by every caller');
      const [request] = mock.tokenRequests;
      assert.equal(request?.claims.iss, mock.clientEmail);
      assert.equal(request?.claims.scope, FCM_SCOPE);
      assert.equal(request?.claims.aud, 'https://oauth2.googleapis.com/token', 'what the library signs for');
      assert.equal(await tokens.get(signal), got[0], 'an hour-long token is reused');
      assert.equal(mock.tokenRequests.length, 1);
    });

    it('renews a token with less than five minutes left before using it again', async () => {
      mock.tokenLifetimeS = 240;
      const { tokens } = await signedIn();
      const first = await tokens.get(live());
      const second = await tokens.get(live());
      assert.notEqual(second, first);
      assert.equal(mock.tokenRequests.length, 2);
    });

    it('keeps using a still-valid token when its renewal fails', async () => {
      mock.tokenLifetimeS = 240;
      const { tokens } = await signedIn();
      const first = await tokens.get(live());
      mock.tokenScript.push({ status: 503, body: { error: 'unavailable' } });
      assert.equal(await tokens.get(live()), first);
      assert.equal(mock.tokenRequests.length, 2);
    });

    const failures: Array<[string, Answer, { kind: string; label: string; retryAfterMs?: number }]> = [
      ['503 with Retry-After', { status: 503, body: {}, retryAfter: '3' }, { kind: 'retry', label: 'token_endpoint_unavailable', retryAfterMs: 3000 }],
      ['429', { status: 429, body: {} }, { kind: 'retry', label: 'token_endpoint_unavailable' }],
      ['400 invalid_grant', { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' } }, { kind: 'misconfigured', label: 'oauth_invalid_grant' }],
      ['404 (a wrong token_uri)', { status: 404, body: '<html>not found</html>' }, { kind: 'misconfigured', label: 'oauth_404' }],
      ['200 without access_token', { status: 200, body: { token_type: 'Bearer', expires_in: 3600 } }, { kind: 'retry', label: 'token_endpoint_bad_answer' }],
    ];
    for (const [name, answer, expected] of failures) {
      it(`classifies a failed sign-in, and the library does not retry it: ${name}`, async () => {
        const { tokens } = await signedIn();
        mock.tokenScript.push(answer);
        await assert.rejects(tokens.get(live()), (err: unknown) => {
          assert.ok(err instanceof TokenError, String(err));
          assert.deepEqual({ kind: err.kind, label: err.label, retryAfterMs: err.retryAfterMs }, { retryAfterMs: undefined, ...expected });
          return true;
        });
        assert.equal(mock.tokenRequests.length, 1);
      });
    }

    it('an unreachable token endpoint is temporary', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      const { tokens } = await signedIn(config('file', accountFile({ token_uri: `http://127.0.0.1:${port}/token` })));
      await assert.rejects(tokens.get(live()), (err: unknown) => {
        assert.ok(err instanceof TokenError, String(err));
        assert.equal(err.kind, 'retry');
        assert.equal(err.label, 'token_endpoint_unreachable');
        assert.match(err.message, /ECONNREFUSED/);
        return true;
      });
    });

    it('a caller whose deadline passes stops waiting; the request still serves the others', async () => {
      const { tokens } = await signedIn();
      const release = mock.holdTokens();
      const impatient = new AbortController();
      const a = tokens.get(impatient.signal);
      const b = tokens.get(live());
      impatient.abort(new Error('deadline'));
      await assert.rejects(a, /deadline/);
      release();
      assert.match(await b, /^ya29\./);
      assert.equal(mock.tokenRequests.length, 1);
    });

    it('closing the transport cuts a sign-in in flight, as a temporary failure', async () => {
      const { tokens } = await signedIn();
      mock.holdTokens();
      const pending = tokens.get(live());
      while (mock.tokenHeld === 0) await new Promise((resolve) => setImmediate(resolve));
      await transports[0]?.close();
      await assert.rejects(pending, (err: unknown) => err instanceof TokenError && err.kind === 'retry' && /closed/.test(err.message));
    });

    it('invalidate() drops a token FCM refused; the next caller signs in afresh', async () => {
      const { tokens } = await signedIn();
      const first = await tokens.get(live());
      tokens.invalidate(first);
      const second = await tokens.get(live());
      assert.notEqual(second, first);
      tokens.invalidate(first); // a late refusal of the old token changes nothing
      assert.equal(await tokens.get(live()), second);
      assert.equal(mock.tokenRequests.length, 2);
    });
  });

  describe('Application Default Credentials', () => {
    it('GOOGLE_APPLICATION_CREDENTIALS: the key file it names, with its token_uri honoured', async () => {
      const restore = noAmbientCredentials({ GOOGLE_APPLICATION_CREDENTIALS: mock.serviceAccountFile });
      try {
        const { credentials, tokens } = await signedIn(config('adc'));
        assert.equal(credentials.source, `Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS=${mock.serviceAccountFile} (service_account)`);
        assert.equal(await credentials.account(), mock.clientEmail);
        assert.match(await tokens.get(live()), /^ya29\./);
        assert.equal(mock.tokenRequests.length, 1);
        assert.equal(mock.tokenRequests[0]?.claims.iss, mock.clientEmail);
      } finally {
        restore();
      }
    });

    it('an unreadable GOOGLE_APPLICATION_CREDENTIALS file stops the start, saying why', async () => {
      const restore = noAmbientCredentials({ GOOGLE_APPLICATION_CREDENTIALS: join(tempDir('adc'), 'missing.json') });
      try {
        await assert.rejects(signedIn(config('adc')), /FCM app com\.example\.android: no service_account_file, and no usable Application Default Credentials .*GOOGLE_APPLICATION_CREDENTIALS.*ENOENT/);
      } finally {
        restore();
      }
    });

    it('a token_uri that is not an http(s) URL stops the start', async () => {
      const restore = noAmbientCredentials({ GOOGLE_APPLICATION_CREDENTIALS: accountFile({ token_uri: 'file:///etc/passwd' }) });
      try {
        await assert.rejects(signedIn(config('adc')), /FCM app com\.example\.android: .*"token_uri" that is not an http\(s\) URL/);
      } finally {
        restore();
      }
    });

    describe('the metadata server (GCE, GKE workload identity)', () => {
      let restore: () => void;
      beforeEach(() => {
        restore = noAmbientCredentials({ GCE_METADATA_HOST: mock.metadataHost, METADATA_SERVER_DETECTION: 'ping-only' });
        gcpMetadata.resetIsAvailableCache();
      });
      afterEach(() => {
        restore();
        gcpMetadata.resetIsAvailableCache();
      });

      it('asks it for a token with the FCM scope, shared by concurrent callers', async () => {
        const { credentials, tokens } = await signedIn(config('adc'));
        assert.equal(credentials.source, `Application Default Credentials: the metadata server (GCE, GKE workload identity) at ${mock.metadataHost}`);
        assert.equal(await credentials.account(), mock.metadataAccount);
        const got = await Promise.all(Array.from({ length: 20 }, () => tokens.get(live())));
        assert.equal(new Set(got).size, 1);
        assert.deepEqual(mock.metadataTokenRequests, [FCM_SCOPE]);
        assert.equal(mock.tokenRequests.length, 0, 'no key, no OAuth token endpoint');
      });

      it('a refusal (the node\'s account lacks the scope or the role) is our configuration', async () => {
        const { tokens } = await signedIn(config('adc'));
        mock.tokenScript.push({ status: 403, body: 'Forbidden' });
        await assert.rejects(tokens.get(live()), (err: unknown) => err instanceof TokenError && err.kind === 'misconfigured' && err.label === 'oauth_403');
      });
    });

    it('none found: the start fails saying so, without asking a metadata server', async () => {
      const restore = noAmbientCredentials();
      try {
        await assert.rejects(signedIn(config('adc')), /FCM app com\.example\.android: no service_account_file, and no usable Application Default Credentials/);
        assert.deepEqual(mock.metadataTokenRequests, []);
      } finally {
        restore();
      }
    });
  });
});
