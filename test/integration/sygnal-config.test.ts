import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApnsHarness } from '../helpers/apns-harness';
import { FcmMock } from '../upstreams/fcm-mock';
import { newVapidKeyPair } from '../../src/pushkins/webpush/vapid';
import { HeraldProcess } from '../helpers/process';
import { SYGNAL_LOG_SETUP, SYGNAL_OPENTRACING } from '../helpers/sygnal-yaml';
import { tempDir } from '../upstreams/temp';

/**
 * A sygnal.yaml as operators have them (Sygnal's sample layout: Python logging setup,
 * access log, metrics sections, an APNs certificate app, an APNs token app, an FCM v1
 * app and a Web Push app) starts Herald unchanged. Only the port and the upstream endpoints are changed, to
 * point at local mocks.
 */
describe("Sygnal's configuration file", function () {
  this.timeout(30_000);
  const harness = new ApnsHarness();
  let fcm: FcmMock;
  let herald: HeraldProcess | undefined;

  before(async () => {
    fcm = await FcmMock.start();
  });
  after(async () => {
    await herald?.stop();
    await fcm.close();
    await harness.close();
  });

  it('starts Herald unchanged, with warnings only for what Herald ignores', async () => {
    const { pki } = harness;
    const dir = tempDir('sygnal');
    const vapidFile = join(dir, 'vapid.pem');
    writeFileSync(vapidFile, newVapidKeyPair().pem);
    const sygnalYaml = `
## Logging #####################################################################
log:
${SYGNAL_LOG_SETUP}
  access:
    x_forwarded_for: false

## HTTP Server (Matrix Push Gateway API) #######################################
http:
  bind_addresses: ['127.0.0.1']
  port: 0

## Metrics #####################################################################
metrics:
  prometheus:
    enabled: false
    address: '127.0.0.1'
    port: 8000
${SYGNAL_OPENTRACING}
  sentry:
    enabled: false

## Pushkins/Apps ###############################################################
apps:
  com.example.myapp.ios:
    type: apns
    certfile: ${JSON.stringify(pki.clientCerts.both)}
    platform: sandbox
    inflight_request_limit: 512
    convert_device_token_to_hex: true
    endpoint: ${JSON.stringify('https://127.0.0.1:1')}
    ca_file: ${JSON.stringify(pki.caFile)}
  com.example.myotherapp.ios:
    type: apns
    keyfile: ${JSON.stringify(pki.tokenKey.file)}
    key_id: ${pki.tokenKey.keyId}
    team_id: ${pki.tokenKey.teamId}
    topic: com.example.myotherapp
    push_type: alert
  com.example.myapp.android:
    type: gcm
    api_version: v1
    project_id: ${fcm.projectId}
    service_account_file: ${JSON.stringify(fcm.serviceAccountFile)}
    max_connections: 20
    inflight_request_limit: 512
    fcm_options:
      android:
        notification:
          body: test message
          default_sound: true
          default_vibrate_timings: true
          default_light_settings: false
      apns:
        payload:
          aps:
            content-available: 1
            mutable-content: 1
            alert: ""
  com.example.myapp.web:
    type: webpush
    vapid_private_key: ${JSON.stringify(vapidFile)}
    vapid_contact_email: ops@example.com
    allowed_endpoints: ['*.push.services.mozilla.com', 'fcm.googleapis.com']
    ttl: 900
    max_connections: 20
    inflight_request_limit: 512
`;
    const file = join(dir, 'sygnal.yaml');
    writeFileSync(file, sygnalYaml);
    herald = new HeraldProcess([], { HERALD_CONFIG: file });
    const ready = await herald.waitFor('herald is ready');
    assert.deepEqual(ready.apps, ['com.example.myapp.ios (apns)', 'com.example.myotherapp.ios (apns)', 'com.example.myapp.android (gcm)', 'com.example.myapp.web (webpush)']);
    const warnings = herald.lines.filter((line) => line.level === 40).map((line) => line.msg);
    assert.deepEqual(warnings, ["log.setup: Sygnal's Python logging setup is not used by Herald and is ignored; set log.level instead"]);
  });
});
