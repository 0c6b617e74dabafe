import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseVapidPrivateKey } from '../../src/pushkins/webpush/vapid';
import { tempDir } from '../helpers/temp';

const ROOT = join(__dirname, '..', '..');
/** The built CLI, as installed (`npm test` builds first). */
const HERALD_BIN = join(ROOT, 'dist', 'src', 'main.js');

function herald(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [HERALD_BIN, ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('herald vapid-keys and check-config for a webpush app', function () {
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
});
