import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApnsHarness, device } from '../helpers/apns-harness';
import type { ApnsMock } from '../upstreams/apns-mock';
import { ConnectProxy } from '../helpers/connect-proxy';
import { FcmMock } from '../upstreams/fcm-mock';
import { notifyBody } from '../helpers/gateway';
import { HeraldProcess } from '../helpers/process';
import { SYGNAL_LOG_SETUP, SYGNAL_OPENTRACING } from '../helpers/sygnal-yaml';
import { tempDir } from '../upstreams/temp';

/**
 * A sygnal.yaml using every key Sygnal reads (`sygnal.yaml.sample` and each pushkin's
 * `UNDERSTOOD_CONFIG_FIELDS`, plus log.access.*,
 * the opentracing and sentry sections and the database section of older versions),
 * found through Sygnal's own $SYGNAL_CONF, starts the built herald and delivers through
 * an authenticating CONNECT proxy to an APNs certificate app, an APNs token app, an app
 * with both certfile and keyfile, and an FCM v1 app. Herald's only additions are the
 * `endpoint` and `ca_file` keys pointing at local mocks. The warnings are exactly the
 * documented differences (docs/troubleshooting.md, "Migrating from Sygnal").
 */
describe('a Sygnal configuration using every Sygnal key', function () {
  this.timeout(60_000);
  const harness = new ApnsHarness();
  let certMock: ApnsMock;
  let tokenMock: ApnsMock;
  let fcm: FcmMock;
  let proxy: ConnectProxy;
  let herald: HeraldProcess | undefined;

  before(async () => {
    certMock = await harness.mock({ token: undefined, certificate: 'sandbox' });
    tokenMock = await harness.mock();
    fcm = await FcmMock.start();
    proxy = await ConnectProxy.start('sygnal', 'proxy-pass');
  });
  after(async () => {
    await herald?.stop();
    await proxy.close();
    await fcm.close();
    await harness.close();
  });

  function sygnalYaml(): string {
    const { pki } = harness;
    return `
log:
${SYGNAL_LOG_SETUP}
  access:
    enabled: false
    file: /var/log/sygnal/access.log
    x_forwarded_for: true

http:
  bind_addresses: ['127.0.0.1']
  port: 0

metrics:
  prometheus:
    enabled: true
    address: '127.0.0.1'
    port: 0
${SYGNAL_OPENTRACING}
  sentry:
    enabled: true
    dsn: 'https://key@sentry.example.org/1'

database:
  name: sqlite3
  args:
    dbfile: sygnal.db

proxy: 'http://sygnal:proxy-pass@127.0.0.1:${proxy.port}'

apps:
  com.example.cert.ios:
    type: apns
    certfile: ${JSON.stringify(pki.clientCerts.sandbox)}
    platform: sandbox
    topic: com.example.cert
    push_type: alert
    convert_device_token_to_hex: true
    send_badge_counts: true
    inflight_request_limit: 512
    endpoint: ${JSON.stringify(certMock.url)}
    ca_file: ${JSON.stringify(pki.caFile)}
  com.example.token.ios:
    type: apns
    keyfile: ${JSON.stringify(pki.tokenKey.file)}
    key_id: ${pki.tokenKey.keyId}
    team_id: ${pki.tokenKey.teamId}
    topic: com.example.token
    platform: sandbox
    push_type: alert
    convert_device_token_to_hex: true
    send_badge_counts: false
    inflight_request_limit: 256
    endpoint: ${JSON.stringify(tokenMock.url)}
    ca_file: ${JSON.stringify(pki.caFile)}
  com.example.both.ios:
    type: apns
    certfile: ${JSON.stringify(pki.clientCerts.sandbox)}
    keyfile: ${JSON.stringify(pki.tokenKey.file)}
    key_id: ${pki.tokenKey.keyId}
    team_id: ${pki.tokenKey.teamId}
    platform: sandbox
    endpoint: ${JSON.stringify(certMock.url)}
    ca_file: ${JSON.stringify(pki.caFile)}
  com.example.android:
    type: gcm
    api_version: v1
    project_id: ${fcm.projectId}
    service_account_file: ${JSON.stringify(fcm.serviceAccountFile)}
    max_connections: 20
    inflight_request_limit: 512
    endpoint: ${JSON.stringify(fcm.url)}
    fcm_options:
      android:
        notification:
          body: test message
          default_sound: true
      apns:
        payload:
          aps:
            content-available: 1
            mutable-content: 1
            alert: ""
`;
  }

  it('starts, warns only about what Herald does not use, and delivers everything through the proxy', async () => {
    const file = join(tempDir('sygnal-every-key'), 'sygnal.yaml');
    writeFileSync(file, sygnalYaml());
    herald = new HeraldProcess([], { HERALD_CONFIG: '', SYGNAL_CONF: file, NO_PROXY: '', no_proxy: '' });
    const ready = await herald.waitFor('herald is ready');
    assert.deepEqual(ready.apps, [
      'com.example.cert.ios (apns)',
      'com.example.token.ios (apns)',
      'com.example.both.ios (apns)',
      'com.example.android (gcm)',
    ]);
    const readyAt = herald.lines.indexOf(ready);
    const warnings = herald.lines.slice(0, readyAt).filter((line) => line.level === 40).map((line) => line.msg);
    assert.deepEqual(warnings.sort(), [
      "apps.\"com.example.both.ios\".keyfile: ignored (with key_id and team_id): certfile is also set, and certfile (certificate auth) takes precedence, as in Sygnal; remove one of them",
      'database: the database of older Sygnal versions is not used by Herald; ignored',
      "log.access.file: not used: access lines go to standard output with the other log lines (set log.access.enabled: false to turn them off)",
      'log.access.x_forwarded_for: Herald believes X-Forwarded-For only from a reverse proxy on this host (127.0.0.0/8, ::1), where Sygnal believes any client; if your proxy runs elsewhere, list its address in http.trusted_proxies (this key is then not needed)',
      "log.setup: Sygnal's Python logging setup is not used by Herald and is ignored; set log.level instead",
    ]);

    const cert = device('every-key-cert');
    const token = device('every-key-token');
    const both = device('every-key-both');
    const response = await fetch(`http://${(ready.listen as string[])[0]}/_matrix/push/v1/notify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.9' },
      body: JSON.stringify(
        notifyBody({
          event_id: '$every-key',
          counts: { unread: 2 },
          devices: [
            { app_id: 'com.example.cert.ios', pushkey: cert.pushkey },
            { app_id: 'com.example.token.ios', pushkey: token.pushkey },
            { app_id: 'com.example.both.ios', pushkey: both.pushkey },
            { app_id: 'com.example.android', pushkey: 'fcm-every-key' },
          ],
        }),
      ),
    });
    assert.deepEqual({ status: response.status, body: await response.json() }, { status: 200, body: { rejected: [] } });

    // Certificate auth (the mock answers 403 without a client certificate carrying the sandbox OID).
    const [certRequest] = certMock.requestsFor(cert.hex);
    assert.equal(certRequest?.headers['apns-topic'], 'com.example.cert');
    assert.equal(certRequest?.headers['apns-push-type'], 'alert');
    assert.equal((certRequest?.json.aps as { badge?: number }).badge, 2);
    // Token auth, with send_badge_counts: false.
    const [tokenRequest] = tokenMock.requestsFor(token.hex);
    assert.equal(tokenRequest?.jwt?.header.kid, harness.pki.tokenKey.keyId);
    assert.equal((tokenRequest?.json.aps as { badge?: number }).badge, undefined);
    // certfile and keyfile: the certificate was used, so the request carries no provider token.
    const [bothRequest] = certMock.requestsFor(both.hex);
    assert.equal(bothRequest?.headers.authorization, undefined);
    // FCM v1 with fcm_options merged into the message.
    const [fcmSend] = fcm.sendsTo('fcm-every-key');
    assert.equal((fcmSend?.message.android as { notification?: { body?: string } }).notification?.body, 'test message');

    // Everything went through the proxy, with its credentials.
    const authorization = `Basic ${Buffer.from('sygnal:proxy-pass').toString('base64')}`;
    for (const port of [certMock.port, tokenMock.port, Number(new URL(fcm.url).port)]) {
      const tunnels = proxy.tunnelsTo(port);
      assert.ok(tunnels.length >= 1, `a tunnel to port ${port}`);
      assert.ok(tunnels.every((tunnel) => tunnel.authorization === authorization));
    }

    // log.access.enabled: false: no access line; metrics.prometheus: served.
    assert.deepEqual(herald.lines.filter((line) => line.msg === 'request'), []);
    const metrics = await fetch(String(ready.metrics));
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /^sygnal_notifications_received_total 1$/m);
  });
});
