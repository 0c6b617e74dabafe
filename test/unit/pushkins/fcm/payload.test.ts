import assert from 'node:assert/strict';
import type { Device, Notification } from '../../../../src/notification/types';
import { deepFreeze } from '../../../../src/pushkins/fcm/config';
import { buildMessage, MAX_MESSAGE_BYTES, type BuildResult, type PayloadOptions } from '../../../../src/pushkins/fcm/payload';
import { capField, truncateUtf8 } from '../../../../src/pushkins/fcm/truncate';

const OPTIONS: PayloadOptions = { fcmOptions: {}, sendBadgeCounts: true };

function device(overrides: Partial<Device> = {}): Device {
  return { app_id: 'com.example.android', pushkey: 'fcm-token-1', data: {}, tweaks: {}, ...overrides };
}

function notification(overrides: Partial<Notification> = {}): Notification {
  return {
    event_id: '$ev:example.org',
    room_id: '!room:example.org',
    type: 'm.room.message',
    sender: '@alice:example.org',
    sender_display_name: 'Alice',
    room_name: 'Lunch',
    prio: 'high',
    content: { msgtype: 'm.text', body: 'Hi', 'm.relates_to': { rel_type: 'm.thread' }, num: 3 },
    counts: { unread: 2, missed_calls: 0 },
    devices: [],
    ...overrides,
  };
}

function sent(result: BuildResult): Record<string, unknown> & { data: Record<string, string> } {
  assert.equal(result.kind, 'send', JSON.stringify(result));
  return (result as Extract<BuildResult, { kind: 'send' }>).message as unknown as Record<string, unknown> & { data: Record<string, string> };
}

describe('pushkins/fcm/payload', () => {
  describe('message.data', () => {
    const cases: Array<{ name: string; n: Partial<Notification>; d?: Partial<Device>; options?: Partial<PayloadOptions>; data: Record<string, string> | null }> = [
      {
        name: 'standard event: Sygnal keys in order, content_* for strings only, counts as strings',
        n: { room_alias: '#lunch:example.org', membership: 'join' },
        data: {
          event_id: '$ev:example.org',
          type: 'm.room.message',
          sender: '@alice:example.org',
          room_name: 'Lunch',
          room_alias: '#lunch:example.org',
          membership: 'join',
          sender_display_name: 'Alice',
          room_id: '!room:example.org',
          content_msgtype: 'm.text',
          content_body: 'Hi',
          prio: 'high',
          unread: '2',
          missed_calls: '0',
        },
      },
      {
        name: 'event_id_only (Synapse): absent fields omitted, prio low → normal',
        n: { type: undefined, sender: undefined, sender_display_name: undefined, room_name: undefined, content: undefined, prio: 'low', counts: { unread: 1 } },
        data: { event_id: '$ev:example.org', room_id: '!room:example.org', prio: 'normal', unread: '1' },
      },
      {
        name: 'badge-only: only prio and the count',
        n: { event_id: undefined, room_id: undefined, type: undefined, sender: undefined, sender_display_name: undefined, room_name: undefined, content: undefined, counts: { unread: 0 } },
        data: { prio: 'high', unread: '0' },
      },
      {
        name: 'default_payload first, scalars stringified, objects as JSON, null and reserved keys dropped',
        n: { content: undefined, counts: {} },
        d: { data: { default_payload: { type: 'overridden', sound: 'ping', n: 1, flag: true, obj: { a: 1 }, gone: null, from: 'x', google_y: 'x', 'gcm.z': 'x' } } },
        data: {
          type: 'm.room.message',
          sound: 'ping',
          n: '1',
          flag: 'true',
          obj: '{"a":1}',
          event_id: '$ev:example.org',
          sender: '@alice:example.org',
          room_name: 'Lunch',
          sender_display_name: 'Alice',
          room_id: '!room:example.org',
          prio: 'high',
        },
      },
      {
        name: 'send_badge_counts: false drops the counts',
        n: {},
        options: { sendBadgeCounts: false },
        data: {
          event_id: '$ev:example.org',
          type: 'm.room.message',
          sender: '@alice:example.org',
          room_name: 'Lunch',
          sender_display_name: 'Alice',
          room_id: '!room:example.org',
          content_msgtype: 'm.text',
          content_body: 'Hi',
          prio: 'high',
        },
      },
      {
        name: 'MSC4076 opt-out (prefixed) on a badge-only push: nothing to send',
        n: { event_id: undefined, room_id: undefined, type: undefined, sender: undefined, sender_display_name: undefined, room_name: undefined, content: undefined },
        d: { data: { 'org.matrix.msc4076.disable_badge_count': true } },
        data: null,
      },
      {
        name: 'unprefixed disable_badge_count, badge-only: nothing to send',
        n: { event_id: undefined, room_id: undefined, type: undefined, sender: undefined, sender_display_name: undefined, room_name: undefined, content: undefined },
        d: { data: { disable_badge_count: true } },
        data: null,
      },
      {
        name: 'no counts and no event: nothing to send',
        n: { event_id: undefined, room_id: undefined, type: undefined, sender: undefined, sender_display_name: undefined, room_name: undefined, content: undefined, counts: {} },
        data: null,
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const result = buildMessage(notification(c.n), device(c.d), { ...OPTIONS, ...c.options });
        if (c.data === null) {
          assert.equal(result.kind, 'skipped');
          return;
        }
        const message = sent(result);
        assert.deepEqual(message.data, c.data);
        assert.deepEqual(Object.keys(message.data), Object.keys(c.data), 'key order');
        for (const value of Object.values(message.data)) assert.equal(typeof value, 'string');
      });
    }
  });

  it('rejects a default_payload that is present but not an object; null counts as absent', () => {
    for (const bad of ['text', 3, ['a'], true]) {
      assert.equal(buildMessage(notification(), device({ data: { default_payload: bad } }), OPTIONS).kind, 'rejected');
    }
    assert.equal(buildMessage(notification(), device({ data: { default_payload: null } }), OPTIONS).kind, 'send');
  });

  it('android.priority HIGH/NORMAL; no apns block unless fcm_options has one', () => {
    assert.deepEqual(sent(buildMessage(notification(), device(), OPTIONS)).android, { priority: 'HIGH' });
    const low = sent(buildMessage(notification({ prio: 'low' }), device(), OPTIONS));
    assert.deepEqual(low.android, { priority: 'NORMAL' });
    assert.equal(low.apns, undefined);
    assert.equal(low.token, 'fcm-token-1');
  });

  it('deep-merges fcm_options into every message and never changes the configuration', () => {
    const raw = {
      android: { ttl: '60s', notification: { channel_id: 'msgs' } },
      apns: { headers: { 'apns-push-type': 'alert' }, payload: { aps: { 'mutable-content': 1 } } },
      fcm_options: { analytics_label: 'herald' },
    };
    const snapshot = structuredClone(raw);
    const fcmOptions = deepFreeze(structuredClone(raw));
    const options = { fcmOptions, sendBadgeCounts: true };
    const high = sent(buildMessage(notification(), device(), options));
    const low = sent(buildMessage(notification({ prio: 'low' }), device({ pushkey: 'other' }), options));
    assert.deepEqual(high.android, { ttl: '60s', notification: { channel_id: 'msgs' }, priority: 'HIGH' });
    assert.deepEqual(high.apns, { headers: { 'apns-push-type': 'alert', 'apns-priority': '10' }, payload: { aps: { 'mutable-content': 1 } } });
    assert.deepEqual((low.apns as { headers: unknown }).headers, { 'apns-push-type': 'alert', 'apns-priority': '5' });
    assert.deepEqual(high.fcm_options, { analytics_label: 'herald' });
    // Messages do not share objects with each other or with the config.
    (high.android as Record<string, unknown>).ttl = 'changed';
    assert.equal((low.android as Record<string, unknown>).ttl, '60s');
    assert.deepEqual(fcmOptions, snapshot);
  });

  describe('truncation', () => {
    it('cuts a field over 1024 bytes to at most 1021 bytes plus …, on a character boundary', () => {
      const ascii = 'a'.repeat(2000);
      assert.equal(capField(ascii), `${'a'.repeat(1021)}…`);
      assert.equal(capField('a'.repeat(1024)), 'a'.repeat(1024));
      // 😀 is 4 bytes: 255 fit in 1020 bytes, a 256th would need 1024 > 1021.
      const emoji = '😀'.repeat(400);
      assert.equal(capField(emoji), `${'😀'.repeat(255)}…`);
      // é is 2 bytes: 510 of them fill 1020 bytes.
      assert.equal(capField('é'.repeat(600)), `${'é'.repeat(510)}…`);
      for (const text of [ascii, emoji, 'ü€😀'.repeat(300)]) {
        const cut = capField(text);
        assert.ok(Buffer.byteLength(cut) <= 1024);
        assert.ok(!cut.includes('\uFFFD'));
      }
    });

    it('truncateUtf8 never splits a character', () => {
      assert.equal(truncateUtf8('€€', 5), '€');
      assert.equal(truncateUtf8('€€', 2), '');
      assert.equal(truncateUtf8('a😀', 4), 'a');
      assert.equal(truncateUtf8('abc', 10), 'abc');
    });

    it('keeps the whole message within 4096 bytes, shortening the longest text first and never identifiers', () => {
      const body = '😀'.repeat(1000);
      const n = notification({
        sender_display_name: 'D'.repeat(900),
        room_name: 'R'.repeat(900),
        content: { msgtype: 'm.text', body, formatted_body: 'F'.repeat(3000) },
      });
      const result = buildMessage(n, device({ pushkey: 'x'.repeat(200) }), OPTIONS);
      assert.equal(result.kind, 'send');
      assert.ok((result as { shortened: boolean }).shortened);
      const message = sent(result);
      const bytes = Buffer.byteLength(JSON.stringify(message));
      assert.ok(bytes <= MAX_MESSAGE_BYTES, `${bytes} bytes`);
      assert.equal(message.data.event_id, '$ev:example.org');
      assert.equal(message.data.sender, '@alice:example.org');
      assert.ok(message.data.content_body?.endsWith('…'));
      assert.ok(body.startsWith(message.data.content_body?.slice(0, -1) ?? 'nope'));
      assert.ok(!JSON.stringify(message).includes('\uFFFD'));
    });

    it('leaves a message that fits alone', () => {
      const result = buildMessage(notification(), device(), OPTIONS);
      assert.equal((result as { shortened: boolean }).shortened, false);
    });

    it('fails (does not send) a message that cannot fit even with every text shortened', () => {
      const huge = { ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, 'v'.repeat(900)])) };
      const result = buildMessage(notification(), device({ data: { default_payload: huge } }), OPTIONS);
      assert.equal(result.kind, 'failed');
    });
  });
});
