import assert from 'node:assert/strict';
import { ApnsHarness, APP as APNS_APP, device } from '../helpers/apns-harness';
import type { ApnsMock } from '../upstreams/apns-mock';
import { FcmMock, testKeys } from '../upstreams/fcm-mock';
import { notifyBody, startGateway, type RunningGateway } from '../helpers/gateway';
import { assertUpstreamNotifyResponse } from '../helpers/upstream-schema';

const NOTIFY = '/_matrix/push/v1/notify';
const FCM_APP = 'com.example.android';

/** JSON text nesting `levels` arrays: built as text, as a homeserver would send it. */
function nestedText(levels: number): string {
  return '['.repeat(levels) + ']'.repeat(levels);
}

async function postText(gw: RunningGateway, text: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(gw.url + NOTIFY, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
  const body = (await response.json()) as Record<string, unknown>;
  if (response.status === 200) assertUpstreamNotifyResponse(body);
  return { status: response.status, body };
}

describe('hostile input on the notify endpoint (APNs and FCM mocks)', function () {
  this.timeout(30_000);
  const harness = new ApnsHarness();
  let apns: ApnsMock;
  let fcm: FcmMock;
  let gw: RunningGateway;

  before(async () => {
    testKeys();
    apns = await harness.mock();
    fcm = await FcmMock.start();
    const apps = `apps:\n  ${JSON.stringify(APNS_APP)}: ${JSON.stringify(harness.tokenApp(apns))}\n${fcm.appYaml(FCM_APP)}\n`;
    gw = await startGateway(apps);
  });
  after(async () => {
    await gw.close();
    await fcm.close();
    await harness.close();
  });

  describe('a default_payload nested 5,000 levels', () => {
    for (const [name, appId, pushkey] of [
      ['APNs', APNS_APP, device('deep-apns').pushkey],
      ['FCM', FCM_APP, 'deep-fcm-token'],
    ] as const) {
      it(`${name}: rejects the pushkey without sending, with 200, and again on the retry`, async () => {
        const before = name === 'APNs' ? apns.requests.length : fcm.sends.length;
        const text = JSON.stringify(notifyBody({}, { app_id: appId, pushkey, data: { default_payload: { x: 0 } } })).replace('{"x":0}', `{"x":${nestedText(5_000)}}`);
        for (let attempt = 0; attempt < 2; attempt++) {
          const reply = await postText(gw, text);
          assert.equal(reply.status, 200, JSON.stringify(reply.body));
          assert.deepEqual(reply.body, { rejected: [pushkey] });
        }
        assert.equal(name === 'APNs' ? apns.requests.length : fcm.sends.length, before);
        assert.ok(!gw.logs.raw.includes('Maximum call stack'));
      });
    }
  });

  it('content nested 5,000 levels: that entry is dropped, the message is sent to APNs and FCM', async () => {
    const apnsDevice = device('deep-content');
    const body = notifyBody({ content: { msgtype: 'm.text', body: 'hello', deep: 0 } }, { app_id: APNS_APP, pushkey: apnsDevice.pushkey });
    (body.notification.devices as unknown[]).push({ app_id: FCM_APP, pushkey: 'deep-content-fcm' });
    const reply = await postText(gw, JSON.stringify(body).replace('"deep":0', `"deep":${nestedText(5_000)}`));
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.deepEqual(reply.body, { rejected: [] });
    const [sent] = apns.requestsFor(apnsDevice.hex);
    assert.deepEqual((sent?.json.aps as { alert: unknown }).alert, { 'loc-key': 'MSG_FROM_USER_IN_ROOM_WITH_CONTENT', 'loc-args': ['Alice', 'Lunch', 'hello'] });
    const fcmSend = fcm.sends.find((send) => send.message.token === 'deep-content-fcm');
    assert.equal((fcmSend?.message.data as Record<string, string>).content_body, 'hello');
  });

  describe('numbers outside what the spec allows', () => {
    const cases: Array<[string, string, string]> = [
      ['counts.unread 1e400 (Infinity)', '"counts":{"unread":1e400}', 'notification.counts.unread'],
      ['counts.missed_calls 1e400 (Infinity)', '"counts":{"missed_calls":1e400}', 'notification.counts.missed_calls'],
      ['counts.unread past 2^53', '"counts":{"unread":9007199254740993}', 'notification.counts.unread'],
      ['counts.unread -1e400', '"counts":{"unread":-1e400}', 'notification.counts.unread'],
    ];
    for (const [name, counts, field] of cases) {
      it(`${name} → 400 M_BAD_JSON naming ${field}`, async () => {
        const text = JSON.stringify(notifyBody({ counts: { unread: 1 } }, { app_id: FCM_APP, pushkey: 'numbers' })).replace('"counts":{"unread":1}', counts);
        const reply = await postText(gw, text);
        assert.equal(reply.status, 400);
        assert.equal(reply.body.errcode, 'M_BAD_JSON');
        assert.match(String(reply.body.error), new RegExp(field.replace(/\./g, '\\.')));
      });
    }
    for (const value of ['1e400', '-1e400', '1e300']) {
      it(`pushkey_ts ${value} → 400 M_BAD_JSON naming notification.devices[0].pushkey_ts`, async () => {
        const text = JSON.stringify(notifyBody({}, { app_id: FCM_APP, pushkey: 'numbers', pushkey_ts: 1 })).replace('"pushkey_ts":1', `"pushkey_ts":${value}`);
        const reply = await postText(gw, text);
        assert.equal(reply.status, 400);
        assert.equal(reply.body.errcode, 'M_BAD_JSON');
        assert.match(String(reply.body.error), /notification\.devices\[0\]\.pushkey_ts/);
      });
    }
  });
});
