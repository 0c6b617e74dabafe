import assert from 'node:assert/strict';
import type { Device, Notification } from '../../../../src/notification/types';
import { buildPayload, type PayloadResult } from '../../../../src/pushkins/apns/payload';

function notification(fields: Partial<Notification> = {}): Notification {
  return {
    event_id: '$ev:example.org',
    room_id: '!room:example.org',
    type: 'm.room.message',
    sender: '@alice:example.org',
    prio: 'high',
    counts: {},
    devices: [],
    ...fields,
  };
}

function device(fields: Partial<Device> = {}): Device {
  return { app_id: 'com.example.app', pushkey: 'pk', data: {}, tweaks: {}, ...fields };
}

function build(n: Partial<Notification>, d: Partial<Device> = {}, sendBadgeCounts = true): PayloadResult {
  return buildPayload(notification(n), device(d), { sendBadgeCounts });
}

function sent(result: PayloadResult): Record<string, unknown> {
  assert.equal(result.kind, 'send', JSON.stringify(result));
  return (result as { payload: Record<string, unknown> }).payload;
}

function alertOf(result: PayloadResult): unknown {
  return (sent(result).aps as { alert?: unknown }).alert;
}

describe('pushkins/apns/payload', () => {
  describe('the loc-key table (full format)', () => {
    const text = { msgtype: 'm.text', body: 'hi' };
    const rows: Array<[string, Partial<Notification>, string, string[]]> = [
      ['image in a named room', { room_name: 'Lunch', content: { msgtype: 'm.image', body: 'cat.jpg' } }, 'IMAGE_FROM_USER_IN_ROOM', ['@alice:example.org', 'cat.jpg', 'Lunch']],
      ['image, no room name', { content: { msgtype: 'm.image', body: 'cat.jpg' } }, 'IMAGE_FROM_USER', ['@alice:example.org', 'cat.jpg']],
      ['encrypted image (type m.room.encrypted)', { type: 'm.room.encrypted', room_alias: '#lunch:x', content: { msgtype: 'm.image', body: 'c' } }, 'IMAGE_FROM_USER_IN_ROOM', ['@alice:example.org', 'c', '#lunch:x']],
      ['emote in a room', { room_name: 'Lunch', content: { msgtype: 'm.emote', body: 'waves' } }, 'ACTION_FROM_USER_IN_ROOM', ['Lunch', '@alice:example.org', 'waves']],
      ['emote, no room', { content: { msgtype: 'm.emote', body: 'waves' } }, 'ACTION_FROM_USER', ['@alice:example.org', 'waves']],
      ['text in a room', { room_name: 'Lunch', content: text }, 'MSG_FROM_USER_IN_ROOM_WITH_CONTENT', ['@alice:example.org', 'Lunch', 'hi']],
      ['notice, no room', { content: { msgtype: 'm.notice', body: 'n' } }, 'MSG_FROM_USER_WITH_CONTENT', ['@alice:example.org', 'n']],
      ['encrypted, room known', { type: 'm.room.encrypted', room_name: 'Lunch', content: { algorithm: 'm.megolm.v1.aes-sha2' } }, 'MSG_FROM_USER_IN_ROOM', ['@alice:example.org', 'Lunch']],
      ['encrypted, no room', { type: 'm.room.encrypted' }, 'MSG_FROM_USER', ['@alice:example.org']],
      ['body without msgtype', { room_name: 'Lunch', content: { body: 'hi' } }, 'MSG_FROM_USER_IN_ROOM', ['@alice:example.org', 'Lunch']],
      ['video call', { type: 'm.call.invite', room_name: 'Lunch', content: { offer: { sdp: 'v=0\r\nm=audio 9\r\nm=video 9\r\n' } } }, 'VIDEO_CALL_FROM_USER', ['@alice:example.org']],
      ['voice call', { type: 'm.call.invite', content: { offer: { sdp: 'v=0\r\nm=audio 9\r\n' } } }, 'VOICE_CALL_FROM_USER', ['@alice:example.org']],
      ['invite to a named room', { type: 'm.room.member', membership: 'invite', user_is_target: true, room_name: 'Lunch' }, 'USER_INVITE_TO_NAMED_ROOM', ['@alice:example.org', 'Lunch']],
      ['invite, room known by alias', { type: 'm.room.member', membership: 'invite', user_is_target: true, room_alias: '#l:x' }, 'USER_INVITE_TO_NAMED_ROOM', ['@alice:example.org', '#l:x']],
      ['invite to an unnamed room', { type: 'm.room.member', membership: 'invite', user_is_target: true }, 'USER_INVITE_TO_CHAT', ['@alice:example.org']],
      ['any other event type', { type: 'org.example.custom' }, 'MSG_FROM_USER', ['@alice:example.org']],
    ];
    for (const [name, fields, key, args] of rows) {
      it(`${name} → ${key}`, () => {
        assert.deepEqual(alertOf(build(fields)), { 'loc-key': key, 'loc-args': args });
      });
    }

    it('names the sender by display name, then user id, then a single space', () => {
      assert.deepEqual(alertOf(build({ sender_display_name: 'Alice' })), { 'loc-key': 'MSG_FROM_USER', 'loc-args': ['Alice'] });
      assert.deepEqual(alertOf(build({ sender: undefined })), { 'loc-key': 'MSG_FROM_USER', 'loc-args': [' '] });
    });

    it('prefers the room name to its alias and cuts both names to 1024 characters', () => {
      const long = '😀'.repeat(1500);
      const args = (alertOf(build({ sender_display_name: long, room_name: long, room_alias: '#a:x' })) as { 'loc-args': string[] })['loc-args'];
      assert.equal([...(args[0] as string)].length, 1024);
      assert.equal([...(args[1] as string)].length, 1024);
      assert.ok(long.startsWith(args[1] as string));
    });

    it('sends no alert for other member events, and nothing at all without a badge', () => {
      assert.deepEqual(build({ type: 'm.room.member', membership: 'join', user_is_target: true }), {
        kind: 'skip',
        reason: 'no alert and no badge for a m.room.member event',
      });
      assert.deepEqual(sent(build({ type: 'm.room.member', membership: 'invite', user_is_target: false, counts: { unread: 1 } })), { aps: { badge: 1 } });
    });
  });

  describe('full format', () => {
    it('sets badge = unread + missed_calls, ids at top level, and the sound tweak', () => {
      const payload = sent(build({ counts: { unread: 2, missed_calls: 1 } }, { tweaks: { sound: 'ping.caf', highlight: true } }));
      assert.deepEqual(payload, {
        aps: { alert: { 'loc-key': 'MSG_FROM_USER', 'loc-args': ['@alice:example.org'] }, sound: 'ping.caf', badge: 3 },
        room_id: '!room:example.org',
        event_id: '$ev:example.org',
      });
    });

    it('sends a badge of 0 (it clears the badge), and either count alone', () => {
      assert.equal((sent(build({ counts: { unread: 0 } })).aps as { badge: number }).badge, 0);
      assert.equal((sent(build({ counts: { missed_calls: 2 } })).aps as { badge: number }).badge, 2);
      assert.equal((sent(build({})).aps as { badge?: number }).badge, undefined);
    });

    it('ignores a sound tweak that is not a string', () => {
      assert.equal((sent(build({}, { tweaks: { sound: true } })).aps as { sound?: unknown }).sound, undefined);
    });

    it("deep-copies default_payload, keeping the alert's other keys and the client's own sound", () => {
      const defaultPayload = { aps: { alert: { title: 'New message', 'loc-key': 'OLD' }, sound: 'custom.caf', 'mutable-content': 1 }, extra: { nested: true } };
      const payload = sent(build({ counts: { unread: 1 } }, { data: { default_payload: defaultPayload }, tweaks: { sound: 'default' } }));
      assert.deepEqual(payload, {
        aps: { alert: { title: 'New message', 'loc-key': 'MSG_FROM_USER', 'loc-args': ['@alice:example.org'] }, sound: 'custom.caf', 'mutable-content': 1, badge: 1 },
        extra: { nested: true },
        room_id: '!room:example.org',
        event_id: '$ev:example.org',
      });
      (payload.extra as { nested: boolean }).nested = false;
      assert.equal(defaultPayload.extra.nested, true, 'the pusher data was not changed');
      assert.equal(defaultPayload.aps.alert['loc-key'], 'OLD');
    });

    it('adds no ids when there is only a badge', () => {
      assert.deepEqual(sent(build({ type: 'm.room.member', membership: 'leave', counts: { unread: 3 } })), { aps: { badge: 3 } });
    });
  });

  describe('event_id_only format', () => {
    const eventIdOnly: Partial<Notification> = { type: undefined, sender: undefined, counts: { unread: 5, missed_calls: 1 } };

    it('without default_payload: ids and counts, no aps', () => {
      assert.deepEqual(sent(build(eventIdOnly)), { room_id: '!room:example.org', event_id: '$ev:example.org', unread_count: 5, missed_calls: 1 });
    });

    it('with default_payload: a shallow copy of it plus ids and counts; tweaks are not used', () => {
      const defaultPayload = { aps: { 'mutable-content': 1, alert: { 'loc-key': 'SINGLE_UNREAD' } } };
      const result = build(eventIdOnly, { data: { format: 'event_id_only', default_payload: defaultPayload }, tweaks: { sound: 'default' } });
      assert.equal(result.kind === 'send' && result.format, 'event_id_only');
      assert.deepEqual(sent(result), { ...defaultPayload, room_id: '!room:example.org', event_id: '$ev:example.org', unread_count: 5, missed_calls: 1 });
    });
  });

  describe('badge-only format', () => {
    const badgeOnly: Partial<Notification> = { event_id: undefined, room_id: undefined, type: undefined, sender: undefined };

    it('sends just the badge, ignoring default_payload', () => {
      assert.deepEqual(sent(build({ ...badgeOnly, counts: { unread: 4, missed_calls: 1 } }, { data: { default_payload: { aps: { sound: 'x' } } } })), { aps: { badge: 5 } });
      assert.deepEqual(sent(build({ ...badgeOnly, counts: { unread: 0 } })), { aps: { badge: 0 } });
    });

    it('skips a push without counts', () => {
      assert.equal(build({ ...badgeOnly, counts: {} }).kind, 'skip');
    });
  });

  describe('switching the badge off', () => {
    const counts = { unread: 2, missed_calls: 1 };
    const cases: Array<[string, Partial<Device>, boolean]> = [
      ['send_badge_counts: false', {}, false],
      ['MSC4076 pusher data', { data: { 'org.matrix.msc4076.disable_badge_count': true } }, true],
      ['unprefixed pusher data', { data: { disable_badge_count: true } }, true],
    ];
    for (const [name, deviceFields, sendBadgeCounts] of cases) {
      it(`${name}: no badge, no counts, and an empty badge-only push is skipped`, () => {
        assert.deepEqual(sent(build({ counts }, deviceFields, sendBadgeCounts)).aps, { alert: { 'loc-key': 'MSG_FROM_USER', 'loc-args': ['@alice:example.org'] } });
        assert.deepEqual(sent(build({ type: undefined, counts }, deviceFields, sendBadgeCounts)), { room_id: '!room:example.org', event_id: '$ev:example.org' });
        assert.equal(build({ event_id: undefined, type: undefined, counts }, deviceFields, sendBadgeCounts).kind, 'skip');
        assert.equal(build({ type: 'm.room.member', membership: 'join', counts }, deviceFields, sendBadgeCounts).kind, 'skip');
      });
    }

    it('only honours `true` in the pusher data', () => {
      assert.equal((sent(build({ counts }, { data: { disable_badge_count: 'yes' } })).aps as { badge?: number }).badge, 3);
    });
  });

  describe('default_payload that is not an object', () => {
    for (const value of ['a string', 42, ['a', 'list'], true]) {
      it(`${JSON.stringify(value)} makes the pushkey invalid, in every format`, () => {
        const data = { default_payload: value };
        assert.equal(build({}, { data }).kind, 'invalid');
        assert.equal(build({ type: undefined }, { data }).kind, 'invalid');
        assert.equal(build({ event_id: undefined, type: undefined, counts: { unread: 1 } }, { data }).kind, 'invalid');
      });
    }

    it('null counts as absent', () => {
      assert.equal(build({}, { data: { default_payload: null } }).kind, 'send');
    });
  });
});
