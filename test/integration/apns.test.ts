import assert from 'node:assert/strict';
import { APP, ApnsHarness, device, notify } from '../helpers/apns-harness';
import { metric, notifyBody } from '../helpers/gateway';

describe('APNs pushkin: delivery (against a mock APNs over HTTP/2 and TLS)', function () {
  this.timeout(30_000);
  let h: ApnsHarness;
  beforeEach(() => {
    h = new ApnsHarness();
  });
  afterEach(() => h.close());

  describe('token authentication', () => {
    it('delivers a full-format push with a valid ES256 provider token', async () => {
      const mock = await h.mock();
      const gw = await h.gateway(h.tokenApp(mock));
      const { pushkey, hex } = device('full');
      const reply = await notify(gw, { event_id: '$full:example.org' }, { pushkey });
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body, { rejected: [] });

      const [request] = mock.requestsFor(hex);
      assert.ok(request, 'the mock saw the request, at the hex token');
      assert.deepEqual(request.jwt?.header, { alg: 'ES256', typ: 'JWT', kid: h.pki.tokenKey.keyId });
      assert.equal(request.jwt?.claims.iss, h.pki.tokenKey.teamId);
      assert.equal(request.headers['apns-topic'], 'com.example.app');
      assert.equal(request.headers['apns-priority'], '10');
      assert.equal(request.headers['apns-push-type'], undefined, 'no push type unless configured');
      assert.match(String(request.headers['apns-id']), /^[0-9a-f-]{36}$/);
      assert.deepEqual(request.json, {
        aps: {
          alert: { 'loc-key': 'MSG_FROM_USER_IN_ROOM_WITH_CONTENT', 'loc-args': ['Alice', 'Lunch', 'Hello there'] },
          sound: 'default',
          badge: 3,
        },
        room_id: '!room:example.org',
        event_id: '$full:example.org',
      });
      assert.equal(await metric(gw, 'sygnal_apns_status_codes_total', { pushkin: APP, code: '200' }), 1);
      assert.equal(await metric(gw, 'sygnal_active_apns_requests', {}), 0);
      assert.equal(gw.logs.raw.includes(pushkey) || gw.logs.raw.includes(hex), false, 'no pushkey or token in the logs');
      assert.equal(gw.logs.raw.includes(String(request.headers.authorization).slice(7)), false, 'no provider token in the logs');
    });

    it('gives each device of one notification the payload its own pusher data and tweaks make', async () => {
      const mock = await h.mock();
      const gw = await h.gateway(h.tokenApp(mock));
      const [a, b, c, d] = ['fan-a', 'fan-b', 'fan-c', 'fan-d'].map((name) => device(name));
      const body = notifyBody({ event_id: '$fan-out:example.org' });
      const template = (body.notification.devices as Array<Record<string, unknown>>)[0];
      body.notification.devices = [
        { ...template, app_id: APP, pushkey: a?.pushkey },
        { ...template, app_id: APP, pushkey: b?.pushkey },
        { ...template, app_id: APP, pushkey: c?.pushkey, tweaks: { sound: 'ping' } },
        { ...template, app_id: APP, pushkey: d?.pushkey, data: { disable_badge_count: true } },
      ];
      const response = await fetch(`${gw.url}/_matrix/push/v1/notify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(response.status, 200);
      const aps = (token: string | undefined) => (mock.requestsFor(token ?? '')[0]?.json as { aps: Record<string, unknown> } | undefined)?.aps;
      assert.deepEqual([aps(a?.hex)?.sound, aps(a?.hex)?.badge], ['default', 3]);
      assert.deepEqual(aps(b?.hex), aps(a?.hex));
      assert.deepEqual([aps(c?.hex)?.sound, aps(c?.hex)?.badge], ['ping', 3]);
      assert.deepEqual([aps(d?.hex)?.sound, aps(d?.hex)?.badge], ['default', undefined]);
    });

    it('sends priority 5 for prio low and 10 otherwise', async () => {
      const mock = await h.mock();
      const gw = await h.gateway(h.tokenApp(mock));
      const low = device('prio-low');
      const high = device('prio-high');
      assert.equal((await notify(gw, { prio: 'low' }, { pushkey: low.pushkey })).status, 200);
      assert.equal((await notify(gw, { prio: 'high' }, { pushkey: high.pushkey })).status, 200);
      assert.equal(mock.requestsFor(low.hex)[0]?.headers['apns-priority'], '5');
      assert.equal(mock.requestsFor(high.hex)[0]?.headers['apns-priority'], '10');
    });

    it('sends apns-push-type only when push_type is configured', async () => {
      const mock = await h.mock();
      const gw = await h.gateway(h.tokenApp(mock, { push_type: 'alert' }));
      const { pushkey, hex } = device('push-type');
      assert.equal((await notify(gw, {}, { pushkey })).status, 200);
      assert.equal(mock.requestsFor(hex)[0]?.headers['apns-push-type'], 'alert');
    });

    it('uses a 64-character hex pushkey as it is', async () => {
      const mock = await h.mock();
      const gw = await h.gateway(h.tokenApp(mock));
      const { hex } = device('hex-client');
      assert.equal((await notify(gw, {}, { pushkey: hex })).status, 200);
      assert.equal(mock.requestsFor(hex).length, 1);
    });

    it('sends event_id_only pushes built from default_payload, for a Notification Service Extension', async () => {
      const mock = await h.mock();
      const gw = await h.gateway(h.tokenApp(mock));
      const { pushkey, hex } = device('event-id-only');
      const defaultPayload = { aps: { 'mutable-content': 1, alert: { 'loc-key': 'SINGLE_UNREAD', 'loc-args': [] } } };
      const reply = await notify(
        gw,
        { event_id: '$nse:example.org', type: null, sender: null, sender_display_name: null, room_name: null, content: null, counts: { unread: 4 } },
        { pushkey, data: { format: 'event_id_only', default_payload: defaultPayload }, tweaks: {} },
      );
      assert.equal(reply.status, 200);
      assert.deepEqual(mock.requestsFor(hex)[0]?.json, { ...defaultPayload, room_id: '!room:example.org', event_id: '$nse:example.org', unread_count: 4 });
    });

    it('rejects pushkeys that cannot be tokens, and bad default_payloads, without contacting Apple', async () => {
      const mock = await h.mock();
      const gw = await h.gateway(h.tokenApp(mock));
      const notBase64 = 'this is not base64!';
      assert.deepEqual((await notify(gw, {}, { pushkey: notBase64 })).body, { rejected: [notBase64] });
      const { pushkey } = device('bad-default-payload');
      assert.deepEqual((await notify(gw, {}, { pushkey, data: { default_payload: 'not an object' } })).body, { rejected: [pushkey] });
      assert.equal(mock.requests.length, 0);
    });

    it('sends nothing for an empty badge-only push (send_badge_counts: false)', async () => {
      const mock = await h.mock();
      const gw = await h.gateway(h.tokenApp(mock, { send_badge_counts: false }));
      const { pushkey } = device('badge-off');
      const badgeOnly = { event_id: null, room_id: null, type: null, sender: '', sender_display_name: null, room_name: null, content: null, counts: { unread: 2 } };
      const reply = await notify(gw, badgeOnly, { pushkey });
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body, { rejected: [] });
      assert.equal(mock.requests.length, 0);
    });

    it('truncates a long message to 4096 bytes on a character boundary', async () => {
      const mock = await h.mock();
      const gw = await h.gateway(h.tokenApp(mock));
      const { pushkey, hex } = device('long');
      const body = 'Grüße 👋🏽 '.repeat(800);
      assert.equal((await notify(gw, { content: { msgtype: 'm.text', body } }, { pushkey })).status, 200);
      const [request] = mock.requestsFor(hex);
      assert.ok(request);
      assert.ok(request.bytes <= 4096 && request.bytes > 4000, `payload is ${request.bytes} bytes`);
      const sent = ((request.json.aps as { alert: { 'loc-args': string[] } }).alert['loc-args'])[2] as string;
      assert.ok(body.startsWith(sent), 'the body was cut, not mangled');
      assert.equal(sent.includes('\ufffd'), false);
    });

    it('fails a payload that cannot fit, with a clear log line, without contacting Apple', async () => {
      const mock = await h.mock();
      const gw = await h.gateway(h.tokenApp(mock));
      const { pushkey } = device('too-big');
      const reply = await notify(gw, {}, { pushkey, data: { default_payload: { blob: 'x'.repeat(5000) } } });
      assert.equal(reply.status, 502);
      assert.equal(reply.body.devices?.[0]?.outcome, 'failed');
      assert.deepEqual(reply.body.rejected, []);
      assert.equal(mock.requests.length, 0);
      assert.ok(gw.logs.lines.some((line) => line.level === 50 && String(line.msg).includes('too large')));
    });

    it('answers 502 without rejecting when Apple refuses the provider token', async () => {
      const mock = await h.mock({ token: { ...h.pki.tokenKey, keyId: 'OTHERKEYID' } });
      const gw = await h.gateway(h.tokenApp(mock));
      const { pushkey, hex } = device('wrong-kid');
      const reply = await notify(gw, {}, { pushkey });
      assert.equal(reply.status, 502);
      assert.deepEqual(reply.body.rejected, []);
      assert.equal(reply.body.devices?.[0]?.outcome, 'misconfigured');
      assert.equal(mock.requestsFor(hex).length, 1);
      assert.equal(await metric(gw, 'herald_configuration_errors_total', { pushkin: APP, reason: 'InvalidProviderToken' }), 1);
      assert.ok(gw.logs.lines.some((line) => line.level === 50 && line.reason === 'InvalidProviderToken'));
    });
  });

  describe('certificate authentication', () => {
    it('delivers with a PEM certificate carrying the push extension, and exports its expiry', async () => {
      const mock = await h.mock({ token: undefined, certificate: 'sandbox' });
      const gw = await h.gateway(h.certApp(mock, h.pki.clientCerts.both));
      const { pushkey, hex } = device('cert-pem');
      assert.equal((await notify(gw, {}, { pushkey })).status, 200);
      const [request] = mock.requestsFor(hex);
      assert.ok(request);
      assert.equal(request.headers.authorization, undefined);
      assert.equal(request.headers['apns-topic'], undefined, 'with a certificate, Apple takes the topic from it');
      const expiry = await metric(gw, 'sygnal_client_cert_expiry', { pushkin: APP });
      const days = (expiry * 1000 - Date.now()) / 86_400_000;
      assert.ok(days > 360 && days < 366, `expiry metric is ${days} days away`);
    });

    it('delivers with a .p12 file and its passphrase', async () => {
      const mock = await h.mock({ token: undefined, certificate: 'sandbox' });
      const gw = await h.gateway(h.certApp(mock, h.pki.clientCerts.p12, { passphrase: h.pki.p12Passphrase, topic: 'com.example.app' }));
      const { pushkey, hex } = device('cert-p12');
      assert.equal((await notify(gw, {}, { pushkey })).status, 200);
      assert.equal(mock.requestsFor(hex)[0]?.headers['apns-topic'], 'com.example.app');
    });

    it('keeps the pushkey when Apple refuses the certificate', async () => {
      const mock = await h.mock({ token: undefined, certificate: 'production' });
      const gw = await h.gateway(h.certApp(mock, h.pki.clientCerts.sandbox));
      const { pushkey } = device('cert-wrong-env');
      const reply = await notify(gw, {}, { pushkey });
      assert.equal(reply.status, 502);
      assert.deepEqual(reply.body.rejected, []);
      assert.equal(reply.body.devices?.[0]?.outcome, 'misconfigured');
      assert.equal(await metric(gw, 'herald_configuration_errors_total', { pushkin: APP, reason: 'BadCertificateEnvironment' }), 1);
    });
  });
});
