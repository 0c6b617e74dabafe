import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import type { Device, Notification } from '../../../../src/notification/types';
import { buildPayload, buildWebPush, cutToChars, roomTopic } from '../../../../src/pushkins/webpush/payload';

const ecdh = createECDH('prime256v1');
ecdh.generateKeys();
const P256DH = ecdh.getPublicKey().toString('base64url');
const AUTH = randomBytes(16).toString('base64url');
const ENDPOINT = 'https://push.example.com/wpush/v2/abc';

function device(data: Record<string, unknown> = {}, pushkey = P256DH): Device {
  return { app_id: 'com.example.web', pushkey, data: { endpoint: ENDPOINT, auth: AUTH, ...data }, tweaks: {} };
}

function notification(fields: Partial<Notification> = {}): Notification {
  return { prio: 'high', counts: {}, devices: [], ...fields };
}

const EVENT: Partial<Notification> = {
  event_id: '$e:x',
  room_id: '!r:x',
  type: 'm.room.message',
  sender: '@a:x',
  sender_display_name: 'Alice',
  room_name: 'Lunch',
  content: { msgtype: 'm.text', body: 'hi' },
  counts: { unread: 2, missed_calls: 0 },
};

describe('pushkins/webpush/payload', () => {
  describe('buildPayload (Sygnal §7 rule 5)', () => {
    const cases: Array<[string, Partial<Notification>, Record<string, unknown>, Record<string, unknown>]> = [
      [
        'a full event: truthy fields in Sygnal order, then counts (0 kept), then content',
        EVENT,
        {},
        { room_id: '!r:x', room_name: 'Lunch', event_id: '$e:x', sender: '@a:x', sender_display_name: 'Alice', type: 'm.room.message', unread: 2, missed_calls: 0, content: { msgtype: 'm.text', body: 'hi' } },
      ],
      ['badge only: just the count', { counts: { unread: 0 } }, {}, { unread: 0 }],
      ['user_is_target false is not truthy: left out', { user_is_target: false, membership: 'invite' }, {}, { membership: 'invite' }],
      ['user_is_target true is kept', { user_is_target: true, room_alias: '#a:x' }, {}, { room_alias: '#a:x', user_is_target: true }],
      ['default_payload first, event fields override its keys', { event_id: '$e:x' }, { default_payload: { a: 1, event_id: 'old', nested: { b: [1] } } }, { a: 1, event_id: '$e:x', nested: { b: [1] } }],
      ['default_payload that is not an object is ignored (Sygnal)', { event_id: '$e:x' }, { default_payload: 'x' }, { event_id: '$e:x' }],
      ['content without formatted_body', { content: { body: 'b', formatted_body: '<b>b</b>', format: 'org.matrix.custom.html' } }, {}, { content: { body: 'b', format: 'org.matrix.custom.html' } }],
      ['empty content is left out', { event_id: '$e:x', content: {} }, {}, { event_id: '$e:x' }],
      ['a ciphertext of 2000 characters is kept', { content: { ciphertext: 'c'.repeat(2000) } }, {}, { content: { ciphertext: 'c'.repeat(2000) } }],
      ['a ciphertext over 2000 characters is dropped', { content: { algorithm: 'm.megolm.v1.aes-sha2', ciphertext: 'c'.repeat(2001) } }, {}, { content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
      ['a body of 1000 characters is kept', { content: { body: 'b'.repeat(1000) } }, {}, { content: { body: 'b'.repeat(1000) } }],
      ['a body over 1000 characters is cut to 999 and …', { content: { body: 'b'.repeat(1001) } }, {}, { content: { body: `${'b'.repeat(999)}…` } }],
      ['a body that is not a string is passed as is', { content: { body: 42 } }, {}, { content: { body: 42 } }],
    ];
    for (const [name, fields, data, expected] of cases) {
      it(name, () => {
        const payload = buildPayload(notification(fields), device(data));
        assert.deepEqual(payload, expected);
        assert.deepEqual(Object.keys(payload), Object.keys(expected), 'key order');
      });
    }

    it('a "__proto__" key in default_payload stays a plain key', () => {
      const payload = buildPayload(notification(), device({ default_payload: JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') }));
      assert.equal(Object.getPrototypeOf(payload), Object.prototype);
      assert.equal(JSON.stringify(payload), '{"__proto__":{"polluted":true},"a":1}');
    });

    it('does not modify the notification', () => {
      const content = Object.freeze({ body: 'b'.repeat(1500), formatted_body: 'x' });
      buildPayload(notification({ content }), device());
      assert.equal(content.body.length, 1500);
    });
  });

  describe('cutToChars', () => {
    it('counts code points and never splits a surrogate pair', () => {
      assert.equal(cutToChars('abc', 3), 'abc');
      assert.equal(cutToChars('abcd', 3), 'ab…');
      assert.equal(cutToChars('😀'.repeat(3), 3), '😀😀😀', '6 UTF-16 units but 3 characters: not cut');
      assert.equal(cutToChars('😀'.repeat(4), 3), '😀😀…');
      assert.equal(cutToChars('é😀é😀', 3), 'é😀…');
    });
  });

  describe('buildWebPush', () => {
    it('sends with Urgency normal, or low for prio low; no Topic unless only_last_per_room', () => {
      const high = buildWebPush(notification(EVENT), device());
      assert.equal(high.kind, 'send');
      assert.ok(high.kind === 'send');
      assert.deepEqual({ ...high.message, payload: undefined }, { endpoint: ENDPOINT, p256dh: P256DH, auth: AUTH, urgency: 'normal', payload: undefined });
      const low = buildWebPush(notification({ ...EVENT, prio: 'low' }), device());
      assert.equal(low.kind === 'send' && low.message.urgency, 'low');
    });

    it('only_last_per_room: Topic from the room id; none without a room or when not exactly true', () => {
      const withRoom = buildWebPush(notification(EVENT), device({ only_last_per_room: true }));
      assert.equal(withRoom.kind === 'send' && withRoom.message.topic, roomTopic('!r:x'));
      const noRoom = buildWebPush(notification({ counts: { unread: 1 } }), device({ only_last_per_room: true }));
      assert.equal(noRoom.kind === 'send' && noRoom.message.topic, undefined);
      const truthy = buildWebPush(notification(EVENT), device({ only_last_per_room: 'yes' }));
      assert.equal(truthy.kind === 'send' && truthy.message.topic, undefined);
    });

    it('roomTopic: 32 base64url characters, stable, different per room', () => {
      assert.match(roomTopic('!r:x'), /^[A-Za-z0-9_-]{32}$/);
      assert.equal(roomTopic('!r:x'), roomTopic('!r:x'));
      assert.notEqual(roomTopic('!r:x'), roomTopic('!s:x'));
    });

    const outcomes: Array<[string, Partial<Notification>, Device, string]> = [
      ['events_only without an event is skipped', { counts: { unread: 1 } }, device({ events_only: true }), 'skipped'],
      ['events_only with an event is sent', EVENT, device({ events_only: true }), 'send'],
      ['an empty pushkey is rejected', EVENT, device({}, ''), 'rejected'],
      ['a pushkey that is not a P-256 key is rejected', EVENT, device({}, 'abc'), 'rejected'],
      ['a standard-base64 pushkey is accepted', EVENT, device({}, ecdh.getPublicKey().toString('base64')), 'send'],
      ['missing data.endpoint is rejected', EVENT, { ...device(), data: { auth: AUTH } }, 'rejected'],
      ['data.endpoint not a string is rejected', EVENT, device({ endpoint: ['x'] }), 'rejected'],
      ['missing data.auth is rejected', EVENT, { ...device(), data: { endpoint: ENDPOINT } }, 'rejected'],
      ['data.auth not a string is rejected', EVENT, device({ auth: 16 }), 'rejected'],
      ['data.auth too short is rejected', EVENT, device({ auth: 'AAAA' }), 'rejected'],
    ];
    for (const [name, fields, dev, kind] of outcomes) {
      it(name, () => assert.equal(buildWebPush(notification(fields), dev).kind, kind));
    }
  });
});
