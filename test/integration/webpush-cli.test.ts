import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseVapidPrivateKey } from '../../src/pushkins/webpush/vapid';
import { apnsTestPki } from '../upstreams/apns-pki';
import { runHerald, runHeraldSync } from '../helpers/process';
import { tempDir } from '../upstreams/temp';
import { WebPushMock } from '../upstreams/webpush-mock';

describe('herald vapid-keys, check-config and send-test for a webpush app', function () {
  this.timeout(60_000);
  it('writes a private key only its owner can read, prints its public key, and check-config shows the same key', () => {
    const dir = tempDir('vapid-cli');
    const keyFile = join(dir, 'vapid.pem');
    const made = runHeraldSync(['vapid-keys', keyFile]);
    assert.equal(made.code, 0, made.stderr);
    const publicKey = /applicationServerKey\): ([A-Za-z0-9_-]+)$/m.exec(made.stdout)?.[1];
    assert.ok(publicKey, made.stdout);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const parsed = parseVapidPrivateKey(readFileSync(keyFile, 'utf8'));
    assert.ok('keys' in parsed);
    assert.equal(parsed.keys.publicKey, publicKey);

    const pem = readFileSync(keyFile, 'utf8');
    const again = runHeraldSync(['vapid-keys', keyFile]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /the file exists/);
    assert.equal(readFileSync(keyFile, 'utf8'), pem, 'the key is not overwritten');

    const config = join(dir, 'herald.yaml');
    writeFileSync(config, `apps:\n  com.example.web:\n    type: webpush\n    vapid_private_key: vapid.pem\n    vapid_contact_email: ops@example.com\n`);
    const check = runHeraldSync(['check-config', config]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, new RegExp(`com\\.example\\.web {2}type=webpush .*vapid_public_key=${publicKey} .*\\[ok\\]`));
  });

  it('send-test --data sends to a subscription and explains the answer', async () => {
    const pki = apnsTestPki();
    const mock = await WebPushMock.start({ key: pki.serverKey, cert: pki.serverCert });
    try {
      const dir = tempDir('webpush-send-test');
      const config = join(dir, 'herald.yaml');
      const made = runHeraldSync(['vapid-keys', join(dir, 'vapid.pem')]);
      assert.equal(made.code, 0, made.stderr);
      writeFileSync(
        config,
        `apps:\n  com.example.web: {type: webpush, vapid_private_key: vapid.pem, vapid_contact_email: ops@example.com, ca_file: ${JSON.stringify(pki.caFile)}, allow_private_endpoints: true}\n`,
      );
      const sub = mock.subscribe();
      const data = JSON.stringify({ endpoint: sub.endpoint, auth: sub.auth });
      const sent = await runHerald(['send-test', '--config', config, '--app-id', 'com.example.web', '--pushkey', sub.p256dh, '--data', data, '--message', 'Hi from the CLI']);
      assert.equal(sent.code, 0, sent.stdout);
      assert.match(sent.stdout, /^result: {2}delivered$/m);
      assert.equal((mock.receivedBy(sub)[0]?.payload.content as { body?: string } | undefined)?.body, 'Hi from the CLI');

      mock.script(sub, [], { status: 403 });
      const refused = await runHerald(['send-test', '--config', config, '--app-id', 'com.example.web', '--pushkey', sub.p256dh, '--data', data]);
      assert.equal(refused.code, 1);
      assert.match(refused.stdout, /^result: {2}misconfigured \(push service answered 403.*\)$/m);
      assert.match(refused.stdout, /^meaning: .*applicationServerKey/m);
      assert.deepEqual(mock.problems, []);
    } finally {
      await mock.close();
    }
  });
});
