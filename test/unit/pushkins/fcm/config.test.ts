import assert from 'node:assert/strict';
import { configProblems } from '../../../helpers/config';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfigText } from '../../../../src/config/config';
import type { FcmConfig } from '../../../../src/pushkins/fcm/config';
import { fcmPushkinType } from '../../../../src/pushkins/fcm/type';
import { BUILTIN_PUSHKIN_TYPES } from '../../../../src/pushkins/registry';
import { testKeys } from '../../../upstreams/fcm-mock';
import { tempDir } from '../../../upstreams/temp';

const APP = '"com.example.android"';

describe('pushkins/fcm/config', () => {
  let dir: string;
  const account = (overrides: Record<string, unknown> = {}) =>
    JSON.stringify({
      type: 'service_account',
      project_id: 'proj-123',
      private_key_id: 'k1',
      private_key: testKeys().privateKeyPem,
      client_email: 'sa@proj-123.iam.gserviceaccount.com',
      token_uri: 'https://oauth2.example.test/token',
      ...overrides,
    });

  before(() => {
    dir = tempDir('fcm-config');
    writeFileSync(join(dir, 'sa.json'), account());
  });

  function load(app: string) {
    return loadConfigText(`apps:\n  ${APP}:\n${app.replace(/^/gm, '    ')}\n`, dir, BUILTIN_PUSHKIN_TYPES);
  }

  function problems(app: string): readonly string[] {
    return configProblems(() => load(app));
  }

  it('reads a Sygnal gcm app with defaults; `fcm` is an alias reported as gcm', () => {
    for (const type of ['gcm', 'fcm']) {
      const { config, warnings } = load(`type: ${type}\nproject_id: proj-123\nservice_account_file: sa.json\ninflight_request_limit: 64`);
      assert.deepEqual(warnings, []);
      const app = config.apps[0];
      assert.equal(app?.type, 'gcm');
      assert.equal(app?.inflightRequestLimit, 64);
      const fcm = app?.settings as FcmConfig;
      assert.equal(fcm.projectId, 'proj-123');
      assert.equal(fcm.credentials.kind, 'service_account_file');
      assert.ok(fcm.credentials.kind === 'service_account_file');
      assert.equal(fcm.credentials.file, join(dir, 'sa.json'));
      assert.equal(fcm.credentials.account.clientEmail, 'sa@proj-123.iam.gserviceaccount.com');
      assert.equal(fcm.credentials.account.tokenUri, 'https://oauth2.example.test/token');
      assert.equal(fcm.endpoint, 'https://fcm.googleapis.com');
      assert.equal(fcm.maxConnections, 20);
      assert.equal(fcm.sendBadgeCounts, true);
      assert.equal(fcm.requestTimeoutMs, 10_000);
      assert.deepEqual(fcm.fcmOptions, {});
      const summary = fcmPushkinType.summary(fcm);
      assert.equal(summary.project_id, 'proj-123');
      assert.ok(!JSON.stringify(summary).includes('PRIVATE'));
    }
  });

  it('refuses the legacy API with an explanation of the move to v1', () => {
    const legacy = problems('type: gcm\napi_version: legacy\napi_key: AIzaXXXX\nproject_id: proj-123\nservice_account_file: sa.json');
    assert.equal(legacy.length, 2);
    assert.match(legacy[0] ?? '', /^apps\."com\.example\.android"\.api_key: .*shut .* down in 2024.*service_account_file/);
    assert.match(legacy[1] ?? '', /^apps\."com\.example\.android"\.api_version: .*legacy/);
    assert.match(problems('type: gcm\napi_version: v2\nproject_id: proj-123\nservice_account_file: sa.json')[0] ?? '', /api_version: must be "v1"/);
  });

  it('requires project_id, with a service account file or without (Application Default Credentials)', () => {
    assert.deepEqual(problems('type: gcm'), ['apps."com.example.android".project_id: required (a string)']);
    assert.match(problems('type: gcm\nproject_id: proj-123\nservice_account_file: missing.json')[0] ?? '', /cannot read file/);
    for (const app of ['type: gcm\nproject_id: proj-123', 'type: gcm\nproject_id: proj-123\nservice_account_file:']) {
      const { config, warnings } = load(app);
      assert.deepEqual(warnings, []);
      const fcm = config.apps[0]?.settings as FcmConfig;
      assert.deepEqual(fcm.credentials, { kind: 'application_default' });
      assert.deepEqual(
        { credentials: fcmPushkinType.summary(fcm).credentials, account: fcmPushkinType.summary(fcm).account },
        { credentials: 'Application Default Credentials', account: '(found when the pushkin starts)' },
      );
    }
  });

  const badAccounts: Array<[string, string, RegExp]> = [
    ['not JSON', '{oops', /is not JSON/],
    ['wrong type', account({ type: 'authorized_user' }), /"type": "service_account"/],
    ['no client_email', account({ client_email: undefined }), /client_email/],
    ['no private_key', account({ private_key: undefined }), /private_key/],
    ['unparseable private_key', account({ private_key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }), /not a PEM private key/],
    ['bad token_uri', account({ token_uri: 'ftp://x' }), /token_uri/],
  ];
  for (const [name, text, expected] of badAccounts) {
    it(`validates the service account at start-up: ${name}`, () => {
      writeFileSync(join(dir, 'bad.json'), text);
      const found = problems('type: gcm\nproject_id: proj-123\nservice_account_file: bad.json');
      assert.equal(found.length, 1, found.join('\n'));
      assert.match(found[0] ?? '', /^apps\."com\.example\.android"\.service_account_file: /);
      assert.match(found[0] ?? '', expected);
      assert.ok(!(found[0] ?? '').includes('AAAA'), 'no key material in messages');
    });
  }

  it('warns when project_id is not the service account project', () => {
    const { warnings } = load('type: gcm\nproject_id: other-project\nservice_account_file: sa.json');
    assert.match(warnings[0] ?? '', /project_id: differs/);
  });

  it('reads Herald additions and validates fcm_options', () => {
    const { config } = load(
      'type: gcm\nproject_id: proj-123\nservice_account_file: sa.json\nendpoint: http://127.0.0.1:9/base/\nrequest_timeout_ms: 500\nmax_connections: 3\nsend_badge_counts: false\nfcm_options: {android: {ttl: 60s}}',
    );
    const fcm = config.apps[0]?.settings as FcmConfig;
    assert.equal(fcm.endpoint, 'http://127.0.0.1:9/base');
    assert.equal(fcm.requestTimeoutMs, 500);
    assert.equal(fcm.maxConnections, 3);
    assert.equal(fcm.sendBadgeCounts, false);
    assert.ok(Object.isFrozen(fcm.fcmOptions) && Object.isFrozen(fcm.fcmOptions.android));

    assert.match(problems('type: gcm\nproject_id: proj-123\nservice_account_file: sa.json\nfcm_options: [1]')[0] ?? '', /fcm_options: must be a mapping/);
    assert.match(problems('type: gcm\nproject_id: proj-123\nservice_account_file: sa.json\nfcm_options: {topic: news}')[0] ?? '', /fcm_options\.topic: not allowed/);
    assert.match(problems('type: gcm\nproject_id: proj-123\nservice_account_file: sa.json\nendpoint: fcm.googleapis.com')[0] ?? '', /endpoint: must be an http\(s\) base URL/);
    const { warnings } = load('type: gcm\nproject_id: proj-123\nservice_account_file: sa.json\nfcm_options: {data: {a: b}}');
    assert.match(warnings[0] ?? '', /fcm_options\.data: ignored/);
  });

  it('refuses a project number or malformed project_id, and fcm_options keys FCM v1 does not have', () => {
    assert.match(problems('type: gcm\nproject_id: 1234567890\nservice_account_file: sa.json')[0] ?? '', /project_id: must be the Firebase project id .* got "1234567890"; the project number is not the id/);
    const legacy = problems('type: gcm\nproject_id: proj-123\nservice_account_file: sa.json\nfcm_options: {priority: high, time_to_live: 60, android: {priority: high}}');
    assert.equal(legacy.length, 2);
    assert.match(legacy[0] ?? '', /fcm_options\.priority: not a field of an FCM v1 message \(a legacy API option: in v1 it lives under fcm_options\.android/);
    assert.match(legacy[1] ?? '', /fcm_options\.time_to_live: not a field/);
    assert.match(problems('type: gcm\nproject_id: proj-123\nservice_account_file: sa.json\nfcm_options: {andriod: {}}')[0] ?? '', /fcm_options\.andriod: not a field of an FCM v1 message; allowed: android, apns/);
  });
});
