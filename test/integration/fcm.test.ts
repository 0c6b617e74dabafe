import assert from 'node:assert/strict';
import { gcpMetadata } from 'google-auth-library';
import { DEFAULT_RETRY_POLICY } from '../../src/pushkins/retry';
import type { Clock } from '../../src/util/clock';
import { fastClock } from '../helpers/apns-harness';
import { apnsTestPki } from '../upstreams/apns-pki';
import { FCM, FcmMock, noAmbientCredentials, testKeys, type Answer } from '../upstreams/fcm-mock';
import { metric, notifyBody, startGateway, type RunningGateway } from '../helpers/gateway';
import { assertUpstreamNotifyResponse } from '../helpers/upstream-schema';
import { ConnectProxy } from '../helpers/connect-proxy';

const NOTIFY = '/_matrix/push/v1/notify';
const APP = 'com.example.android';

interface Reply {
  status: number;
  body: { rejected: string[]; devices?: Array<{ pushkey: string; outcome: string; reason?: string }> } & Record<string, unknown>;
  headers: Headers;
}

async function notify(gw: RunningGateway, notification: Record<string, unknown> = {}, device: Record<string, unknown> = {}): Promise<Reply> {
  const body = notifyBody(notification, { app_id: APP, ...device });
  const response = await fetch(gw.url + NOTIFY, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await response.json()) as Reply['body'];
  if (response.status === 200) assertUpstreamNotifyResponse(json);
  return { status: response.status, body: json, headers: response.headers };
}

function devices(pushkeys: string[]): Array<Record<string, unknown>> {
  return pushkeys.map((pushkey) => ({ app_id: APP, pushkey, data: {}, tweaks: {} }));
}

describe('FCM HTTP v1 pushkin (against a mock FCM and token endpoint)', function () {
  this.timeout(30_000);
  let mock: FcmMock;
  let gw: RunningGateway | undefined;

  before(() => testKeys());
  beforeEach(async () => {
    mock = await FcmMock.start();
  });
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
    await mock.close();
  });

  async function start(appExtra = '', clock?: Clock): Promise<RunningGateway> {
    gw = await startGateway(`apps:\n${mock.appYaml(APP, appExtra)}\n`, clock ? { clock } : {});
    return gw;
  }

  async function startWithDeadline(appExtra: string, notifyDeadlineMs: number): Promise<RunningGateway> {
    gw = await startGateway(`apps:\n${mock.appYaml(APP, appExtra)}\n`, { http: { notify_deadline_ms: notifyDeadlineMs } });
    return gw;
  }

  describe('messages', () => {
    it('sends a standard event with the Sygnal data keys, HIGH priority and a verified bearer token', async () => {
      const g = await start();
      const reply = await notify(g, { room_alias: '#lunch:example.org', content: { msgtype: 'm.text', body: 'Hello there', 'm.relates_to': { rel_type: 'm.thread' } } }, { pushkey: 'tok-std' });
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body, { rejected: [] });
      assert.equal(mock.tokenRequests.length, 1);
      // google-auth-library signs for Google's token URL and Herald sends it to the file's token_uri (this mock).
      assert.equal(mock.tokenRequests[0]?.header.alg, 'RS256');
      assert.equal(mock.tokenRequests[0]?.claims.aud, 'https://oauth2.googleapis.com/token');
      assert.equal(mock.tokenRequests[0]?.claims.iss, mock.clientEmail);
      assert.equal(mock.authFailures.length, 0);
      const [send] = mock.sends;
      assert.ok(send);
      assert.equal(send.path, `/v1/projects/${mock.projectId}/messages:send`);
      assert.deepEqual(send.message, {
        token: 'tok-std',
        data: {
          event_id: '$event1:example.org',
          type: 'm.room.message',
          sender: '@alice:example.org',
          room_name: 'Lunch',
          room_alias: '#lunch:example.org',
          sender_display_name: 'Alice',
          room_id: '!room:example.org',
          content_msgtype: 'm.text',
          content_body: 'Hello there',
          prio: 'high',
          unread: '2',
          missed_calls: '1',
        },
        android: { priority: 'HIGH' },
      });
      assert.deepEqual(Object.keys(send.message.data as object).slice(0, 2), ['event_id', 'type']);
      assert.equal(await metric(g, 'sygnal_gcm_status_codes_total', { pushkin: APP, code: '200' }), 1);
    });

    it('event_id_only with prio low: only what the homeserver sent, NORMAL priority', async () => {
      const g = await start();
      const body = { notification: { event_id: '$e:x', room_id: '!r:x', prio: 'low', counts: { unread: 3 }, devices: devices(['tok-eio']) } };
      const response = await fetch(g.url + NOTIFY, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(response.status, 200);
      assert.deepEqual(mock.sends[0]?.message, {
        token: 'tok-eio',
        data: { event_id: '$e:x', room_id: '!r:x', prio: 'normal', unread: '3' },
        android: { priority: 'NORMAL' },
      });
    });

    it('badge-only push (Synapse after a read receipt) carries just the count', async () => {
      const g = await start();
      const body = { notification: { id: '', type: null, sender: '', counts: { unread: 0 }, devices: devices(['tok-badge']) } };
      const response = await fetch(g.url + NOTIFY, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(response.status, 200);
      assert.deepEqual(mock.sends[0]?.message.data, { prio: 'high', unread: '0' });
    });

    it('badge-only with the MSC4076 opt-out has nothing to send: 200, nothing sent', async () => {
      const g = await start();
      const device = { ...devices(['tok-nobadge'])[0], data: { 'org.matrix.msc4076.disable_badge_count': true } };
      const body = { notification: { counts: { unread: 4 }, devices: [device] } };
      const response = await fetch(g.url + NOTIFY, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { rejected: [] });
      assert.equal(mock.sends.length, 0);
      assert.equal(mock.tokenRequests.length, 0);
    });

    it('default_payload keys come first; a default_payload that is not an object rejects without sending', async () => {
      const g = await start();
      const ok = await notify(g, {}, { pushkey: 'tok-dp', data: { default_payload: { sound: 'ping', n: 1, google_x: 'dropped' } } });
      assert.equal(ok.status, 200);
      const data = mock.sends[0]?.message.data as Record<string, string>;
      assert.deepEqual(Object.keys(data).slice(0, 2), ['sound', 'n']);
      assert.equal(data.n, '1');
      assert.equal(data.google_x, undefined);

      const bad = await notify(g, { event_id: '$other:x' }, { pushkey: 'tok-dp-bad', data: { default_payload: 'not an object' } });
      assert.equal(bad.status, 200);
      assert.deepEqual(bad.body.rejected, ['tok-dp-bad']);
      assert.equal(mock.sendsTo('tok-dp-bad').length, 0);
    });

    it('fcm_options (type fcm alias) are merged into every message, with apns-priority from prio', async () => {
      gw = await startGateway(
        `apps:\n${mock.appYaml(APP, 'fcm_options: {android: {ttl: 3600s, collapse_key: c}, apns: {payload: {aps: {mutable-content: 1}}}}').replace('type: gcm', 'type: fcm')}\n`,
      );
      await notify(gw, { prio: 'high' }, { pushkey: 'tok-opt-1' });
      await notify(gw, { prio: 'low', event_id: '$2:x' }, { pushkey: 'tok-opt-2' });
      const [high, low] = [mock.sendsTo('tok-opt-1')[0]?.message, mock.sendsTo('tok-opt-2')[0]?.message];
      assert.deepEqual(high?.android, { ttl: '3600s', collapse_key: 'c', priority: 'HIGH' });
      assert.deepEqual(high?.apns, { payload: { aps: { 'mutable-content': 1 } }, headers: { 'apns-priority': '10' } });
      assert.deepEqual(low?.android, { ttl: '3600s', collapse_key: 'c', priority: 'NORMAL' });
      assert.deepEqual(low?.apns, { payload: { aps: { 'mutable-content': 1 } }, headers: { 'apns-priority': '5' } });
    });

    it('long multi-byte text is cut on character boundaries and the message stays within 4096 bytes', async () => {
      const g = await start();
      const body = '😀é'.repeat(2000);
      const reply = await notify(g, { content: { msgtype: 'm.text', body, formatted_body: `<b>${body}</b>` }, room_name: 'ü'.repeat(900) }, { pushkey: 'tok-long' });
      assert.equal(reply.status, 200);
      const send = mock.sends[0];
      assert.ok(send);
      assert.ok(send.bytes <= 4096, `message is ${send.bytes} bytes`);
      const data = send.message.data as Record<string, string>;
      assert.ok(data.content_body?.endsWith('…'));
      assert.ok(!JSON.stringify(data).includes('\uFFFD'), 'no broken characters');
      assert.ok(body.startsWith(data.content_body?.slice(0, -1) ?? 'x'));
      assert.equal(data.event_id, '$event1:example.org');
    });
  });

  describe('errors', () => {
    it('UNREGISTERED rejects the pushkey and the rejection is remembered on the next call', async () => {
      const g = await start();
      mock.script('tok-dead', [FCM.unregistered()]);
      const first = await notify(g, {}, { pushkey: 'tok-dead' });
      assert.equal(first.status, 200);
      assert.deepEqual(first.body.rejected, ['tok-dead']);
      const second = await notify(g, { event_id: '$next:x' }, { pushkey: 'tok-dead' });
      assert.deepEqual(second.body.rejected, ['tok-dead']);
      assert.equal(mock.sendsTo('tok-dead').length, 1, 'not sent again');
      assert.equal(await metric(g, 'sygnal_gcm_status_codes_total', { pushkin: APP, code: '404' }), 1);
    });

    it('INVALID_ARGUMENT about the registration token rejects it', async () => {
      const g = await start();
      mock.script('tok-malformed', [FCM.invalidToken()]);
      const reply = await notify(g, {}, { pushkey: 'tok-malformed' });
      assert.deepEqual([reply.status, reply.body.rejected], [200, ['tok-malformed']]);
    });

    it('any other INVALID_ARGUMENT fails the device (502), keeps the pushkey and logs FCM\'s message', async () => {
      const g = await start();
      mock.script('tok-badmsg', [FCM.invalidArgument()]);
      const reply = await notify(g, {}, { pushkey: 'tok-badmsg' });
      assert.equal(reply.status, 502);
      assert.deepEqual(reply.body.rejected, []);
      assert.equal(reply.body.devices?.[0]?.outcome, 'failed');
      assert.equal(mock.sendsTo('tok-badmsg').length, 1, 'not retried');
      assert.ok(g.logs.lines.some((l) => String(l.fcm_message).includes("Field 'ttl'")));
    });

    for (const [name, answer, label] of [
      ['SENDER_ID_MISMATCH', FCM.senderIdMismatch(), 'SENDER_ID_MISMATCH'],
      ['THIRD_PARTY_AUTH_ERROR', FCM.thirdPartyAuth(), 'THIRD_PARTY_AUTH_ERROR'],
      ['403 PERMISSION_DENIED', FCM.permissionDenied(), 'PERMISSION_DENIED'],
    ] as Array<[string, Answer, string]>) {
      it(`${name} is our configuration: 502, never rejected, logged at error, counted`, async () => {
        const g = await start();
        mock.script('tok-cfg', [], answer);
        const reply = await notify(g, {}, { pushkey: 'tok-cfg' });
        assert.equal(reply.status, 502);
        assert.deepEqual(reply.body.rejected, []);
        assert.equal(reply.body.devices?.[0]?.outcome, 'misconfigured');
        assert.equal(mock.sendsTo('tok-cfg').length, 1, 'not retried');
        assert.ok(g.logs.lines.some((l) => l.level === 50 && String(l.msg).includes('FCM configuration problem')));
        assert.equal(await metric(g, 'herald_configuration_errors_total', { pushkin: APP, reason: label }), 1);
      });
    }

    it('a revoked access token (401) is renewed once and the send succeeds', async () => {
      const g = await start();
      await notify(g, {}, { pushkey: 'tok-a' });
      mock.revokeTokens();
      const reply = await notify(g, { event_id: '$2:x' }, { pushkey: 'tok-b' });
      assert.equal(reply.status, 200);
      assert.equal(mock.tokenRequests.length, 2);
      assert.equal(mock.authFailures.length, 1);
      assert.equal(mock.sendsTo('tok-b').length, 1);
    });

    it('an access token FCM keeps refusing (401) is our configuration after one renewal: 502, not rejected', async () => {
      const g = await start();
      await notify(g, {}, { pushkey: 'tok-warmup' });
      mock.script('tok-401', [], FCM.unauthenticated());
      const reply = await notify(g, { event_id: '$401:x' }, { pushkey: 'tok-401' });
      assert.equal(reply.status, 502);
      assert.deepEqual(reply.body.rejected, []);
      assert.equal(reply.body.devices?.[0]?.outcome, 'misconfigured');
      assert.equal(mock.sendsTo('tok-401').length, 2, 'first token, then the renewed one');
      assert.equal(mock.tokenRequests.length, 2);
      assert.equal(await metric(g, 'herald_configuration_errors_total', { pushkin: APP, reason: 'UNAUTHENTICATED' }), 1);
    });

    it('QUOTA_EXCEEDED with Retry-After is retried after the time FCM asked for', async () => {
      const { clock, sleeps } = fastClock();
      const g = await start('', clock);
      mock.script('tok-quota', [FCM.quotaExceeded('1')]);
      const reply = await notify(g, {}, { pushkey: 'tok-quota' });
      assert.equal(reply.status, 200);
      assert.equal(mock.sendsTo('tok-quota').length, 2);
      assert.deepEqual(sleeps, [1_000], 'one wait, of the Retry-After');
      assert.equal(await metric(g, 'herald_upstream_retries_total', { pushkin: APP }), 1);
    });

    it('UNAVAILABLE and INTERNAL are retried with backoff until delivered', async () => {
      const { clock, sleeps } = fastClock();
      const g = await start('', clock);
      mock.script('tok-flaky', [FCM.unavailable(), FCM.internal()]);
      const reply = await notify(g, {}, { pushkey: 'tok-flaky' });
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body.rejected, []);
      assert.equal(mock.sendsTo('tok-flaky').length, 3);
      // Exponential backoff with equal jitter: retry n waits between half and all of base × 2^n.
      const { baseDelayMs } = DEFAULT_RETRY_POLICY;
      assert.equal(sleeps.length, 2);
      sleeps.forEach((ms, n) => assert.ok(ms >= (baseDelayMs * 2 ** n) / 2 && ms <= baseDelayMs * 2 ** n, `retry ${n} waited ${ms} ms`));
    });

    it('retries exhausted → 502 (never 200), pushkey kept', async () => {
      const { clock, sleeps } = fastClock();
      const g = await start('', clock);
      mock.script('tok-down', [], FCM.internal());
      const reply = await notify(g, {}, { pushkey: 'tok-down' });
      assert.equal(reply.status, 502);
      assert.deepEqual(reply.body.rejected, []);
      assert.equal(reply.body.devices?.[0]?.outcome, 'retry');
      assert.equal(mock.sendsTo('tok-down').length, 4);
      assert.equal(sleeps.length, 3, 'a wait before each of the three retries');
    });

    it('a Retry-After beyond what Herald waits is passed back to the homeserver', async () => {
      const g = await start();
      mock.script('tok-later', [FCM.unavailable('30')]);
      const reply = await notify(g, {}, { pushkey: 'tok-later' });
      assert.equal(reply.status, 502);
      assert.equal(reply.headers.get('retry-after'), '30');
      assert.equal(mock.sendsTo('tok-later').length, 1);
    });

    it('a request that times out is retried, then answered 502 when the retries run out', async () => {
      const g = await start('request_timeout_ms: 300');
      await notify(g, {}, { pushkey: 'tok-warm' }); // token cached, so every timeout below is FCM's
      mock.script('tok-hang', [], { hang: true });
      const reply = await notify(g, { event_id: '$hang:x' }, { pushkey: 'tok-hang' });
      assert.equal(reply.status, 502);
      assert.deepEqual(reply.body.rejected, []);
      assert.equal(reply.body.devices?.[0]?.outcome, 'retry');
      const sends = mock.sendsTo('tok-hang').length;
      assert.ok(sends >= 2, `${sends} sends`);
      assert.equal(await metric(g, 'sygnal_gcm_status_codes_total', { pushkin: APP, code: '0' }), sends);
    });

    it('retrying stops at the notify deadline: 502, pushkey kept', async () => {
      const g = await startWithDeadline('', 1_500);
      await notify(g, {}, { pushkey: 'tok-warm' });
      mock.script('tok-deadline', [], { hang: true });
      const reply = await notify(g, { event_id: '$deadline:x' }, { pushkey: 'tok-deadline' });
      assert.equal(reply.status, 502);
      assert.deepEqual(reply.body.rejected, []);
      assert.equal(reply.body.devices?.[0]?.outcome, 'retry');
      assert.equal(mock.sendsTo('tok-deadline').length, 1, 'the one send outlived the deadline: no retry after it');
    });

    it('a dropped connection is retried', async () => {
      const g = await start();
      mock.script('tok-drop', [{ destroy: true }]);
      const reply = await notify(g, {}, { pushkey: 'tok-drop' });
      assert.equal(reply.status, 200);
      assert.ok(mock.sendsTo('tok-drop').length >= 2);
    });

    it('token endpoint failing (500) is retried, answers 502 and rejects nothing', async () => {
      const g = await start();
      mock.tokenDefault = { status: 500, body: { error: 'internal_failure' } };
      const reply = await notify(g, {}, { pushkey: 'tok-noauth' });
      assert.equal(reply.status, 502);
      assert.deepEqual(reply.body.rejected, []);
      assert.equal(reply.body.devices?.[0]?.outcome, 'retry');
      assert.equal(mock.sends.length, 0);
      assert.ok(mock.tokenRequests.length >= 2, 'retried');
      assert.ok((await metric(g, 'herald_fcm_token_errors_total', { pushkin: APP, reason: 'unavailable' })) >= 1);
      assert.equal(await metric(g, 'herald_fcm_token_errors_total', { pushkin: APP, reason: 'refused' }), 0);
    });

    it('token endpoint refusing the credentials (invalid_grant) is misconfiguration, not a rejection', async () => {
      const g = await start();
      mock.tokenDefault = { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' } };
      const reply = await notify(g, {}, { pushkey: 'tok-badkey' });
      assert.equal(reply.status, 502);
      assert.deepEqual(reply.body.rejected, []);
      assert.equal(reply.body.devices?.[0]?.outcome, 'misconfigured');
      assert.equal(await metric(g, 'herald_configuration_errors_total', { pushkin: APP, reason: 'oauth_invalid_grant' }), 1);
      assert.equal(await metric(g, 'herald_fcm_token_errors_total', { pushkin: APP, reason: 'refused' }), 1);
      assert.equal(mock.sends.length, 0);
    });
  });

  describe('concurrency and tokens', () => {
    it('sends the devices of one notification concurrently', async () => {
      const g = await start('max_connections: 10');
      mock.holdUntilConcurrent(10);
      const keys = Array.from({ length: 10 }, (_, i) => `tok-many-${i}`);
      const reply = await notify(g, { devices: devices(keys) });
      assert.equal(reply.status, 200);
      assert.equal(mock.maxInFlight, 10);
      assert.deepEqual(new Set(mock.sends.map((s) => s.registrationToken)), new Set(keys));
    });

    it('over https, multiplexes concurrent sends as HTTP/2 streams on one connection (ca_file trusts the test CA)', async () => {
      const pki = apnsTestPki();
      await mock.close();
      mock = await FcmMock.start(testKeys(), { tls: { key: pki.serverKey, cert: pki.serverCert } });
      const g = await start(`max_connections: 1\nca_file: ${JSON.stringify(pki.caFile)}`);
      mock.holdUntilConcurrent(10);
      const keys = Array.from({ length: 10 }, (_, i) => `tok-h2-${i}`);
      const reply = await notify(g, { devices: devices(keys) });
      assert.equal(reply.status, 200);
      assert.equal(mock.maxInFlight, 10, 'ten sends in flight at once over a single connection');
      assert.deepEqual(new Set(mock.sends.map((s) => s.httpVersion)), new Set(['2.0']));
      assert.equal(mock.tokenRequests.length, 1);
    });

    // google-auth-library keeps token time with Date.now() and renews a token once it has
    // five minutes or less left (eagerRefreshThresholdMillis), so a token's staleness is
    // set here by the lifetime the token endpoint gives it, not by waiting.
    for (const [lifetimeS, tokens, what] of [
      [3_600, 1, 'and the same token for the next notification while it has more than five minutes left'],
      [240, 2, 'and one more for the next notification once it has five minutes or less left'],
    ] as const) {
      it(`one token request however many sends wait, ${what}`, async () => {
        mock.tokenLifetimeS = lifetimeS;
        const g = await start('max_connections: 20');
        const keys = Array.from({ length: 20 }, (_, i) => `tok-conc-${i}`);
        const first = await notify(g, { devices: devices(keys) });
        assert.equal(first.status, 200);
        assert.equal(mock.tokenRequests.length, 1);
        const second = await notify(g, { event_id: '$again:x', devices: devices(keys) });
        assert.equal(second.status, 200);
        assert.equal(mock.tokenRequests.length, tokens);
        assert.equal(mock.sends.length, 40);
        assert.equal(mock.authFailures.length, 0);
        assert.equal(new Set(mock.sends.map((s) => s.accessToken)).size, tokens);
      });
    }

    it('mixed outcomes in one notification: dead one rejected, the rest answered per device', async () => {
      const g = await start();
      mock.script('tok-m-dead', [FCM.unregistered()]);
      mock.script('tok-m-down', [], FCM.unavailable('30'));
      const reply = await notify(g, { devices: devices(['tok-m-ok', 'tok-m-dead', 'tok-m-down']) });
      assert.equal(reply.status, 502);
      assert.deepEqual(reply.body.rejected, ['tok-m-dead']);
      assert.deepEqual(reply.body.devices?.map((d) => d.outcome), ['delivered', 'rejected', 'retry']);
    });
  });

  describe('Application Default Credentials (no service_account_file)', () => {
    let restore: (() => void) | undefined;
    afterEach(() => {
      restore?.();
      restore = undefined;
      gcpMetadata.resetIsAvailableCache();
    });

    it('GOOGLE_APPLICATION_CREDENTIALS: signs in with the key file it names, at its token_uri', async () => {
      restore = noAmbientCredentials({ GOOGLE_APPLICATION_CREDENTIALS: mock.serviceAccountFile });
      gw = await startGateway(`apps:\n${mock.appYaml(APP, '', 'adc')}\n`);
      const reply = await notify(gw, {}, { pushkey: 'tok-adc-file' });
      assert.equal(reply.status, 200);
      assert.equal(mock.tokenRequests.length, 1);
      assert.equal(mock.sendsTo('tok-adc-file').length, 1);
      assert.ok(gw.logs.lines.some((l) => l.msg === 'FCM pushkin ready' && String(l.credentials).includes('GOOGLE_APPLICATION_CREDENTIALS')));
    });

    it('the metadata server (GCE_METADATA_HOST): its token is sent, renewed once when FCM refuses it', async () => {
      restore = noAmbientCredentials(mock.metadataServerEnv());
      gcpMetadata.resetIsAvailableCache();
      gw = await startGateway(`apps:\n${mock.appYaml(APP, '', 'adc')}\n`);
      assert.equal((await notify(gw, {}, { pushkey: 'tok-adc-md' })).status, 200);
      mock.revokeTokens();
      assert.equal((await notify(gw, { event_id: '$md2:x' }, { pushkey: 'tok-adc-md' })).status, 200);
      assert.equal(mock.tokenRequests.length, 0);
      assert.equal(mock.metadataTokenRequests.length, 2);
      assert.equal(mock.authFailures.length, 1);
      assert.equal(mock.sendsTo('tok-adc-md').length, 2);
    });
  });

  it('sends FCM and token traffic through the configured proxy', async () => {
    const proxy = await ConnectProxy.start('herald', 'proxy-secret');
    try {
      const proxyUrl = `http://herald:proxy-secret@127.0.0.1:${proxy.port}`;
      gw = await startGateway(`proxy: ${JSON.stringify(proxyUrl)}\napps:\n${mock.appYaml(APP)}\n`);
      const reply = await notify(gw, {}, { pushkey: 'tok-proxied' });
      assert.equal(reply.status, 200);
      assert.equal(mock.sendsTo('tok-proxied').length, 1);
      const tunnels = proxy.tunnels.map((tunnel) => tunnel.target);
      assert.ok(tunnels.length >= 2 && tunnels.every((t) => t === new URL(mock.url).host), tunnels.join());
    } finally {
      await gw?.close();
      gw = undefined;
      await proxy.close();
    }
  });

  it('never logs pushkeys, access tokens or the private key', async () => {
    const g = await start();
    mock.script('tok-secret-dead', [FCM.unregistered()]);
    mock.script('tok-secret-bad', [FCM.invalidArgument('The registration token tok-secret-bad is odd')]);
    await notify(g, { devices: devices(['tok-secret-ok', 'tok-secret-dead', 'tok-secret-bad']) });
    const raw = g.logs.raw;
    for (const secret of ['tok-secret-ok', 'tok-secret-dead', 'tok-secret-bad', mock.sends[0]?.accessToken ?? 'x', 'PRIVATE KEY']) {
      assert.ok(!raw.includes(secret), `${secret} appears in the logs`);
    }
  });
});
