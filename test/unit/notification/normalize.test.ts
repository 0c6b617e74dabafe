import assert from 'node:assert/strict';
import { MAX_JSON_DEPTH } from '../../../src/notification/depth';
import { normalizeNotification, type NotifyRequestBody } from '../../../src/notification/normalize';

function nested(levels: number): unknown {
  let value: unknown = 'x';
  for (let i = 0; i < levels; i++) value = { x: value };
  return value;
}

function body(notification: Partial<NotifyRequestBody['notification']>, device: Partial<NotifyRequestBody['notification']['devices'][number]> = {}): NotifyRequestBody {
  return { notification: { type: 'm.room.message', event_id: '$e', devices: [{ app_id: 'a', pushkey: 'p', ...device }], ...notification } };
}

describe('notification/normalize', () => {
  it('marks a device unsendable when its default_payload nests past the limit', () => {
    const [device] = normalizeNotification(body({}, { data: { default_payload: nested(5_000) as Record<string, unknown> } })).devices;
    assert.equal(device?.unsendable, `data.default_payload nests more than ${MAX_JSON_DEPTH} levels`);
    assert.equal(device?.data.default_payload, undefined);
  });

  it('keeps a default_payload at the limit, and the device sendable', () => {
    const payload = nested(MAX_JSON_DEPTH);
    const [device] = normalizeNotification(body({}, { data: { default_payload: payload as Record<string, unknown> } })).devices;
    assert.equal(device?.unsendable, undefined);
    assert.equal(device?.data.default_payload, payload);
  });

  it('drops other pusher data, tweaks and content entries that nest past the limit, and keeps the rest', () => {
    const deep = nested(MAX_JSON_DEPTH + 1);
    const n = normalizeNotification(
      body({ content: { body: 'hello', msgtype: 'm.text', deep } }, { data: { format: 'event_id_only', deep }, tweaks: { sound: 'default', deep } }),
    );
    assert.deepEqual(n.content, { body: 'hello', msgtype: 'm.text' });
    assert.deepEqual(n.devices[0]?.data, { format: 'event_id_only' });
    assert.deepEqual(n.devices[0]?.tweaks, { sound: 'default' });
    assert.equal(n.devices[0]?.unsendable, undefined);
  });
});
