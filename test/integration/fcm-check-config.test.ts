import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { gcpMetadata } from 'google-auth-library';
import { checkConfig } from '../../src/cli/check-config';
import { FcmMock, noAmbientCredentials, testKeys } from '../upstreams/fcm-mock';
import { tempDir } from '../upstreams/temp';

const APP = 'com.example.android';

/** `herald check-config` on FCM apps: which credentials each will use, never a secret. */
describe('check-config: FCM credentials', function () {
  this.timeout(20_000);
  let mock: FcmMock;
  let restore: (() => void) | undefined;

  before(() => testKeys());
  beforeEach(async () => {
    mock = await FcmMock.start();
  });
  afterEach(async () => {
    restore?.();
    restore = undefined;
    gcpMetadata.resetIsAvailableCache();
    await mock.close();
  });

  async function check(credentials: 'file' | 'adc'): Promise<{ code: number; out: string }> {
    const file = join(tempDir('check-fcm'), 'herald.yaml');
    writeFileSync(file, `apps:\n${mock.appYaml(APP, '', credentials)}\n`);
    let out = '';
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        out += chunk.toString();
        callback();
      },
    });
    const code = await checkConfig(file, sink, sink);
    assert.ok(!out.includes('PRIVATE KEY'), 'no key material');
    return { code, out };
  }

  it('service_account_file: the file, its account and token_uri', async () => {
    const { code, out } = await check('file');
    assert.equal(code, 0, out);
    assert.ok(
      out.includes(`credentials=service account file ${mock.serviceAccountFile} account=${mock.clientEmail} token_uri=${mock.tokenUri}`),
      out,
    );
    assert.match(out, /\[ok\]/);
    assert.equal(mock.tokenRequests.length, 0, 'checking does not sign in');
  });

  it('ADC from GOOGLE_APPLICATION_CREDENTIALS: the variable, the file and its account', async () => {
    restore = noAmbientCredentials({ GOOGLE_APPLICATION_CREDENTIALS: mock.serviceAccountFile });
    const { code, out } = await check('adc');
    assert.equal(code, 0, out);
    assert.ok(
      out.includes(`credentials=Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS=${mock.serviceAccountFile} (service_account) account=${mock.clientEmail}`),
      out,
    );
  });

  it('ADC from the metadata server: where it is and the account the node runs as', async () => {
    restore = noAmbientCredentials(mock.metadataServerEnv());
    gcpMetadata.resetIsAvailableCache();
    const { code, out } = await check('adc');
    assert.equal(code, 0, out);
    assert.ok(
      out.includes(`credentials=Application Default Credentials: the metadata server (GCE, GKE workload identity) at ${mock.metadataHost} account=${mock.metadataAccount}`),
      out,
    );
  });

  it('no credentials to be found: an error naming the app, exit 78 (a configuration error)', async () => {
    restore = noAmbientCredentials();
    const { code, out } = await check('adc');
    assert.equal(code, 78);
    assert.match(out, /\[error\]/);
    assert.match(out, /^error: FCM app com\.example\.android: no service_account_file, and no usable Application Default Credentials/m);
  });
});
