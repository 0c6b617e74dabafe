import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { ApnsHarness, device } from '../helpers/apns-harness';
import type { ApnsMock } from '../upstreams/apns-mock';
import { FcmMock, testKeys } from '../upstreams/fcm-mock';
import { startGateway, type RunningGateway } from '../helpers/gateway';
import { assertUpstreamNotifyResponse } from '../helpers/upstream-schema';

const SAMPLES = join(__dirname, '..', 'fixtures', 'homeserver-samples');

/** One recorded request (test/fixtures/homeserver-samples/README.md). */
interface Sample {
  method: string;
  path: string;
  headers: Record<string, string>;
  body_raw: string;
  body: { notification: { devices: Array<{ app_id: string; pushkey: string }> } };
  herald_status: number;
  herald_response: string;
}

/** Headers that describe the recorded connection rather than the request. */
const CONNECTION_HEADERS = new Set(['host', 'content-length']);

const NOOP_APP = 'org.example.herald.noop';
const IOS_APP = 'org.example.herald.ios';
const ANDROID_APP = 'org.example.herald.android';
const TOPIC = 'org.example.herald.ios';

/**
 * What each recorded request must become upstream, written from the payload formats
 * Sygnal documents and sends (its apnspushkin.py and gcmpushkin.py), with Herald's one
 * addition: the push rule's sound as `aps.sound` (docs/apns.md). The APNs payload is
 * the whole JSON body Apple receives; the FCM one is `message.data` (every value a
 * string, in this key order) and `message.android.priority`.
 */
const EXPECTED: Record<string, { apns: { priority: string; payload: object }; fcm: { data: Record<string, string>; priority: string } }> = {
  'synapse-notify-full.json': {
    apns: {
      priority: '10',
      payload: {
        aps: {
          alert: { 'loc-key': 'MSG_FROM_USER_IN_ROOM_WITH_CONTENT', 'loc-args': ['Alice E2E', 'Herald E2E', 'Hello from Alice'] },
          badge: 1,
          sound: 'default',
        },
        room_id: '!UwmGlvVqVfiYBGaPOQ:localhost',
        event_id: '$SGbMz-ynxps0JerlMkHWc_FVJE4cZE39A1zopY8WijY',
      },
    },
    fcm: {
      priority: 'HIGH',
      data: {
        event_id: '$SGbMz-ynxps0JerlMkHWc_FVJE4cZE39A1zopY8WijY',
        type: 'm.room.message',
        sender: '@alice49391:localhost',
        room_name: 'Herald E2E',
        sender_display_name: 'Alice E2E',
        room_id: '!UwmGlvVqVfiYBGaPOQ:localhost',
        content_body: 'Hello from Alice',
        content_msgtype: 'm.text',
        prio: 'high',
        unread: '1',
      },
    },
  },
  // No type: only the pusher's default_payload and the identifiers, for the app to fetch the event.
  'synapse-notify-event-id-only.json': {
    apns: {
      priority: '10',
      payload: {
        aps: { alert: { 'loc-args': [], 'loc-key': 'SINGLE_UNREAD' }, 'mutable-content': 1 },
        room_id: '!UwmGlvVqVfiYBGaPOQ:localhost',
        event_id: '$SGbMz-ynxps0JerlMkHWc_FVJE4cZE39A1zopY8WijY',
        unread_count: 1,
      },
    },
    fcm: {
      priority: 'HIGH',
      data: {
        // FCM data values are strings: an object of default_payload travels as its JSON text.
        aps: '{"alert":{"loc-args":[],"loc-key":"SINGLE_UNREAD"},"mutable-content":1}',
        event_id: '$SGbMz-ynxps0JerlMkHWc_FVJE4cZE39A1zopY8WijY',
        room_id: '!UwmGlvVqVfiYBGaPOQ:localhost',
        prio: 'high',
        unread: '1',
      },
    },
  },
  // A read receipt: the badge alone, and 0 clears it.
  'synapse-notify-badge-only.json': {
    apns: { priority: '10', payload: { aps: { badge: 0 } } },
    fcm: { priority: 'HIGH', data: { prio: 'high', unread: '0' } },
  },
  // Ciphertext has no msgtype and body: the alert names sender and room only.
  'synapse-notify-encrypted.json': {
    apns: {
      priority: '10',
      payload: {
        aps: { alert: { 'loc-key': 'MSG_FROM_USER_IN_ROOM', 'loc-args': ['Alice E2E', 'Herald E2E'] }, badge: 1, sound: 'default' },
        room_id: '!UwmGlvVqVfiYBGaPOQ:localhost',
        event_id: '$xiMksyebuoX_iGe2lBcMCClgskwt3ELVt4SNi1XRB94',
      },
    },
    fcm: {
      priority: 'HIGH',
      data: {
        event_id: '$xiMksyebuoX_iGe2lBcMCClgskwt3ELVt4SNi1XRB94',
        type: 'm.room.encrypted',
        sender: '@alice49391:localhost',
        room_name: 'Herald E2E',
        sender_display_name: 'Alice E2E',
        room_id: '!UwmGlvVqVfiYBGaPOQ:localhost',
        content_algorithm: 'm.megolm.v1.aes-sha2',
        content_ciphertext: 'AwgAEnACgAkLmt6qF84IK++J7UDH2Za1YVchHyprqTqsg',
        content_device_id: 'ALICEDEV',
        content_sender_key: 'c2VuZGVyX2tleQ',
        content_session_id: 'c2Vzc2lvbl9pZA',
        prio: 'high',
        unread: '1',
      },
    },
  },
  'synapse-notify-invite.json': {
    apns: {
      priority: '10',
      payload: {
        aps: { alert: { 'loc-key': 'USER_INVITE_TO_NAMED_ROOM', 'loc-args': ['Alice E2E', 'Second Room'] }, badge: 2, sound: 'default' },
        room_id: '!AvzNqEpkwFBOuvFXRX:localhost',
        event_id: '$qFyQa08vze8W-lP1A7VcH6FZA7-V0woO-hvwU_4-o04',
      },
    },
    fcm: {
      priority: 'HIGH',
      data: {
        event_id: '$qFyQa08vze8W-lP1A7VcH6FZA7-V0woO-hvwU_4-o04',
        type: 'm.room.member',
        sender: '@alice49391:localhost',
        room_name: 'Second Room',
        membership: 'invite',
        sender_display_name: 'Alice E2E',
        room_id: '!AvzNqEpkwFBOuvFXRX:localhost',
        content_displayname: 'bob50014',
        content_membership: 'invite',
        prio: 'high',
        unread: '2',
      },
    },
  },
};

function readSample(file: string): Sample {
  return JSON.parse(readFileSync(join(SAMPLES, file), 'utf8')) as Sample;
}

/** The recorded body as Synapse sent it, byte for byte, but for the device's app_id and pushkey. */
function addressedTo(sample: Sample, appId: string, pushkey: string): string {
  const [recorded] = sample.body.notification.devices;
  assert.ok(recorded, 'the sample has a device');
  const replaced = sample.body_raw.replace(JSON.stringify(recorded.app_id), JSON.stringify(appId)).replace(JSON.stringify(recorded.pushkey), JSON.stringify(pushkey));
  assert.notEqual(replaced, sample.body_raw);
  return replaced;
}

/** Sends `body` with the recorded request's method, path and headers. */
async function replay(gw: RunningGateway, sample: Sample, body: string): Promise<request.Response> {
  let call = request(gw.url).post(sample.path);
  for (const [name, value] of Object.entries(sample.headers)) if (!CONNECTION_HEADERS.has(name)) call = call.set(name, value);
  return call.send(body);
}

describe('requests recorded from a real Synapse', function () {
  this.timeout(30_000);
  const harness = new ApnsHarness();
  let apns: ApnsMock;
  let fcm: FcmMock;
  let gw: RunningGateway;

  before(async () => {
    testKeys();
    apns = await harness.mock();
    fcm = await FcmMock.start();
    const ios = { ...harness.tokenApp(apns), topic: TOPIC };
    gw = await startGateway(`apps:\n  ${NOOP_APP}: {type: noop}\n  ${IOS_APP}: ${JSON.stringify(ios)}\n${fcm.appYaml(ANDROID_APP)}\n`);
  });
  after(async () => {
    await gw.close();
    await fcm.close();
    await harness.close();
  });

  const files = readdirSync(SAMPLES).filter((name) => name.endsWith('.json'));
  it('has samples to replay, each with its expected upstream payloads', () => {
    assert.ok(files.length >= 5, files.join(', '));
    assert.deepEqual(Object.keys(EXPECTED).sort(), [...files].sort());
  });

  for (const file of files) {
    it(`answers ${file} as recorded`, async () => {
      const sample = readSample(file);
      const response = await replay(gw, sample, sample.body_raw);
      assert.equal(response.status, sample.herald_status, response.text);
      assert.deepEqual(response.body, JSON.parse(sample.herald_response));
      assertUpstreamNotifyResponse(response.body);
    });

    it(`answers ${file} sent without a Content-Type header`, async () => {
      const sample = readSample(file);
      // A Buffer body makes supertest send no Content-Type of its own.
      const response = await request(gw.url).post(sample.path).send(Buffer.from(sample.body_raw));
      assert.equal(response.status, sample.herald_status, response.text);
    });

    it(`sends ${file} to APNs as Sygnal's payload format says`, async () => {
      const sample = readSample(file);
      const expected = EXPECTED[file];
      assert.ok(expected);
      const token = device(`sample ${file}`);
      const response = await replay(gw, sample, addressedTo(sample, IOS_APP, token.pushkey));
      assert.equal(response.status, 200, response.text);
      assert.deepEqual(response.body, { rejected: [] });
      const sent = apns.requestsFor(token.hex);
      assert.equal(sent.length, 1, 'one request to APNs, at the hex device token');
      const [received] = sent as [(typeof sent)[number]];
      assert.deepEqual(received.json, expected.apns.payload);
      assert.equal(received.headers['apns-topic'], TOPIC);
      assert.equal(received.headers['apns-priority'], expected.apns.priority);
    });

    it(`sends ${file} to FCM as Sygnal's data format says`, async () => {
      const sample = readSample(file);
      const expected = EXPECTED[file];
      assert.ok(expected);
      const pushkey = `fcm-registration-token-${file}`;
      const response = await replay(gw, sample, addressedTo(sample, ANDROID_APP, pushkey));
      assert.equal(response.status, 200, response.text);
      assert.deepEqual(response.body, { rejected: [] });
      const sent = fcm.sends.filter((send) => send.registrationToken === pushkey);
      assert.equal(sent.length, 1, 'one message to FCM');
      const [received] = sent as [(typeof sent)[number]];
      assert.equal(received.path, `/v1/projects/${fcm.projectId}/messages:send`);
      assert.deepEqual(received.message, { token: pushkey, data: expected.fcm.data, android: { priority: expected.fcm.priority } });
      // deepEqual ignores key order; the data map's order is part of the format.
      assert.deepEqual(Object.keys(received.message.data as object), Object.keys(expected.fcm.data));
    });
  }
});
