import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfigText } from '../../../../src/config/config';
import type { WebPushConfig } from '../../../../src/pushkins/webpush/config';
import { webPushPushkinType } from '../../../../src/pushkins/webpush/type';
import { newVapidKeyPair, parseVapidPrivateKey } from '../../../../src/pushkins/webpush/vapid';
import { BUILTIN_PUSHKIN_TYPES } from '../../../../src/pushkins/registry';
import { configProblems } from '../../../helpers/config';
import { tempDir } from '../../../upstreams/temp';

const APP = '"com.example.web"';

describe('pushkins/webpush/config', () => {
  let dir: string;
  const pair = newVapidKeyPair();

  before(() => {
    dir = tempDir('webpush-config');
    writeFileSync(join(dir, 'vapid.pem'), pair.pem);
  });

  function load(app: string) {
    return loadConfigText(`apps:\n  ${APP}:\n${app.replace(/^/gm, '    ')}\n`, dir, BUILTIN_PUSHKIN_TYPES);
  }

  const base = 'type: webpush\nvapid_private_key: vapid.pem\nvapid_contact_email: ops@example.com';

  it("reads Sygnal's webpush app with its defaults", () => {
    const { config, warnings } = load(`${base}\nallowed_endpoints: ['*.push.services.mozilla.com', 'fcm.googleapis.com']\ninflight_request_limit: 64`);
    assert.deepEqual(warnings, []);
    const app = config.apps[0];
    assert.equal(app?.type, 'webpush');
    assert.equal(app?.inflightRequestLimit, 64);
    const settings = app?.settings as WebPushConfig;
    assert.equal(settings.vapid.publicKey, pair.publicKey);
    assert.equal(settings.subject, 'mailto:ops@example.com');
    assert.deepEqual(settings.allowedEndpoints, ['*.push.services.mozilla.com', 'fcm.googleapis.com']);
    assert.deepEqual([settings.ttl, settings.maxConnections, settings.allowPrivateEndpoints], [900, 20, false]);
    const summary = webPushPushkinType.summary(settings);
    assert.equal(summary.vapid_public_key, pair.publicKey);
  });

  it('reports each problem at its key path', () => {
    writeFileSync(join(dir, 'rsa.pem'), generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(dir, 'junk.pem'), 'hello');
    const path = `apps.${APP}`;
    assert.deepEqual(configProblems(() => load('type: webpush')), [
      `${path}.vapid_private_key: required (a string)`,
      `${path}.vapid_contact_email: required (a string)`,
    ]);
    assert.deepEqual(
      configProblems(() => load('type: webpush\nvapid_private_key: rsa.pem\nvapid_contact_email: not-an-email\nttl: -1\nmax_connections: 0\nallowed_endpoints: []')),
      [
        `${path}.vapid_private_key: must be an EC P-256 (prime256v1) key, got rsa`,
        `${path}.allowed_endpoints: is empty: no endpoint could be sent to; remove the key to allow every push service`,
        `${path}.vapid_contact_email: must be an email address (push services contact it about Herald's traffic), got "not-an-email"`,
        `${path}.ttl: must be at least 0, got -1`,
        `${path}.max_connections: must be at least 1, got 0`,
      ],
    );
    assert.match(configProblems(() => load('type: webpush\nvapid_private_key: junk.pem\nvapid_contact_email: a@b.c'))[0] ?? '', /vapid_private_key: is not an EC private key/);
    assert.match(configProblems(() => load('type: webpush\nvapid_private_key: missing.pem\nvapid_contact_email: a@b.c'))[0] ?? '', /vapid_private_key: cannot read file "missing.pem": no such file/);
  });

  it('vapid_contact_email may already start with mailto:', () => {
    const { config } = load('type: webpush\nvapid_private_key: vapid.pem\nvapid_contact_email: mailto:ops@example.com');
    assert.equal((config.apps[0]?.settings as WebPushConfig).subject, 'mailto:ops@example.com');
  });

  describe('VAPID key files', () => {
    it('reads what `vapid --gen` and openssl write (SEC1 and PKCS#8 PEM) and base64 DER, to the same key', () => {
      const sec1 = join(dir, 'sec1.pem');
      execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', sec1]);
      const sec1Text = readFileSync(sec1, 'utf8');
      assert.match(sec1Text, /BEGIN EC PRIVATE KEY/);
      const pkcs8Text = execFileSync('openssl', ['pkcs8', '-topk8', '-nocrypt', '-in', sec1], { encoding: 'utf8' });
      const derBase64 = execFileSync('openssl', ['pkcs8', '-topk8', '-nocrypt', '-in', sec1, '-outform', 'DER']).toString('base64url');
      const keys = [sec1Text, pkcs8Text, derBase64].map((text) => {
        const parsed = parseVapidPrivateKey(text);
        assert.ok('keys' in parsed);
        return parsed.keys;
      });
      assert.deepEqual(keys[1], keys[0]);
      assert.deepEqual(keys[2], keys[0]);
      assert.equal(Buffer.from(keys[0]?.publicKey ?? '', 'base64url').length, 65);
      assert.equal(Buffer.from(keys[0]?.privateKey ?? '', 'base64url').length, 32);
    });

    it('newVapidKeyPair writes a PEM whose public key is the one printed', () => {
      const parsed = parseVapidPrivateKey(pair.pem);
      assert.ok('keys' in parsed);
      assert.equal(parsed.keys.publicKey, pair.publicKey);
      assert.match(pair.pem, /^-----BEGIN PRIVATE KEY-----/);
    });
  });
});
