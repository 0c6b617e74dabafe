import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseVapidPrivateKey } from '../../src/pushkins/webpush/vapid';
import { apnsTestPki } from '../helpers/apns-pki';
import { tempDir } from '../helpers/temp';
import { WebPushMock } from '../helpers/webpush-mock';

const ROOT = join(__dirname, '..', '..');
/** The built CLI, as installed (`npm test` builds first). */
const HERALD_BIN = join(ROOT, 'dist', 'src', 'main.js');

function herald(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [HERALD_BIN, ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** The same, without blocking this process (a mock in it must answer). */
function heraldAsync(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HERALD_BIN, ...args], { cwd: ROOT });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout }));
  });
}

describe('herald vapid-keys, check-config and send-test for a webpush app', function () {
  this.timeout(60_000);
  it('writes a private key only its owner can read, prints its public key, and check-config shows the same key', () => {
    const dir = tempDir('vapid-cli');
    const keyFile = join(dir, 'vapid.pem');
    const made = herald(['vapid-keys', keyFile]);
    assert.equal(made.code, 0, made.stderr);
    const publicKey = /applicationServerKey\): ([A-Za-z0-9_-]+)$/m.exec(made.stdout)?.[1];
    assert.ok(publicKey, made.stdout);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const parsed = parseVapidPrivateKey(readFileSync(keyFile, 'utf8'));
    assert.ok('keys' in parsed);
    assert.equal(parsed.keys.publicKey, publicKey);

    const pem = readFileSync(keyFile, 'utf8');
    const again = herald(['vapid-keys', keyFile]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /the file exists/);
    assert.equal(readFileSync(keyFile, 'utf8'), pem, 'the key is not overwritten');

    const config = join(dir, 'herald.yaml');
    writeFileSync(config, `apps:\n  com.example.web:\n    type: webpush\n    vapid_private_key: vapid.pem\n    vapid_contact_email: ops@example.com\n`);
    const check = herald(['check-config', config]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, new RegExp(`com\\.example\\.web {2}type=webpush .*vapid_public_key=${publicKey} .*\\[ok\\]`));
  });

  it('send-test --data sends to a subscription and explains the answer', async () => {
    const pki = apnsTestPki();
    const mock = await WebPushMock.start({ key: pki.serverKey, cert: pki.serverCert });
    try {
      const dir = tempDir('webpush-send-test');
      const config = join(dir, 'herald.yaml');
      const made = herald(['vapid-keys', join(dir, 'vapid.pem')]);
      assert.equal(made.code, 0, made.stderr);
      writeFileSync(
        config,
        `apps:\n  com.example.web: {type: webpush, vapid_private_key: vapid.pem, vapid_contact_email: ops@example.com, ca_file: ${JSON.stringify(pki.caFile)}, allow_private_endpoints: true}\n`,
      );
      const sub = mock.subscribe();
      const data = JSON.stringify({ endpoint: sub.endpoint, auth: sub.auth });
      const sent = await heraldAsync(['send-test', '--config', config, '--app-id', 'com.example.web', '--pushkey', sub.p256dh, '--data', data, '--message', 'Hi from the CLI']);
      assert.equal(sent.code, 0, sent.stdout);
      assert.match(sent.stdout, /^result: {2}delivered$/m);
      assert.equal((mock.receivedBy(sub)[0]?.payload.content as { body?: string } | undefined)?.body, 'Hi from the CLI');

      mock.script(sub, [], { status: 403 });
      const refused = await heraldAsync(['send-test', '--config', config, '--app-id', 'com.example.web', '--pushkey', sub.p256dh, '--data', data]);
      assert.equal(refused.code, 1);
      assert.match(refused.stdout, /^result: {2}misconfigured \(push service answered 403.*\)$/m);
      assert.match(refused.stdout, /^meaning: .*applicationServerKey/m);
      assert.deepEqual(mock.problems, []);
    } finally {
      await mock.close();
    }
  });
});
