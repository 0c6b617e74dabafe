import assert from 'node:assert/strict';
import { normalizeNotification, type NotifyRequestBody } from '../../../../src/notification/normalize';
import { buildForward } from '../../../../src/pushkins/unifiedpush/payload';

const ENDPOINT = 'https://ntfy.example.org/upAbc?up=1';

function request(notification: Record<string, unknown>, data: Record<string, unknown> = {}): NotifyRequestBody {
  return { notification: { ...notification, devices: [{ app_id: 'a', pushkey: ENDPOINT, data }] } } as unknown as NotifyRequestBody;
}

function forward(notification: Record<string, unknown>, data: Record<string, unknown> = {}, maxBytes = 4096) {
  const normalized = normalizeNotification(request(notification, data));
  const [device] = normalized.devices;
  assert.ok(device);
  return buildForward(normalized, device, maxBytes);
}

function bodyOf(result: ReturnType<typeof forward>): unknown {
  assert.equal(result.kind, 'send');
  return result.kind === 'send' ? JSON.parse(result.body) : undefined;
}

describe('pushkins/unifiedpush/payload', () => {
  const full = {
    id: '$e',
    event_id: '$e',
    room_id: '!r:example.org',
    type: 'm.room.message',
    sender: '@a:example.org',
    content: { msgtype: 'm.text', body: 'hi' },
    counts: { unread: 1 },
    prio: 'high',
  };

  it('forwards the notification as received, nulls and unknown keys included, without devices', () => {
    const received = { ...full, type: null, extra: { nested: [1, 2] } };
    assert.deepEqual(bodyOf(forward(received)), { notification: received });
  });

  it('event_id_only keeps event_id, room_id, counts and prio', () => {
    assert.deepEqual(bodyOf(forward(full, { format: 'event_id_only' })), {
      notification: { event_id: '$e', room_id: '!r:example.org', counts: { unread: 1 }, prio: 'high' },
    });
  });

  it('over the limit: content goes first, then all but the event_id_only keys, then it fails', () => {
    const big = { ...full, content: { body: 'x'.repeat(500) } };
    const withoutContent = forward(big, {}, 300);
    assert.equal(withoutContent.kind === 'send' && withoutContent.trimmed, 'content');
    const { content: _content, ...rest } = full;
    assert.deepEqual(bodyOf(withoutContent), { notification: rest });
    const bigName = { ...full, content: undefined, sender_display_name: 'y'.repeat(500) };
    const minimal = forward(bigName, {}, 300);
    assert.equal(minimal.kind === 'send' && minimal.trimmed, 'event_id_only');
    const tooBig = forward({ ...full, event_id: `$${'z'.repeat(400)}` }, {}, 300);
    assert.equal(tooBig.kind, 'failed');
  });

  it('fits exactly at the limit', () => {
    const exact = forward(full);
    assert.equal(exact.kind, 'send');
    const size = exact.kind === 'send' ? Buffer.byteLength(exact.body) : 0;
    const atLimit = forward(full, {}, size);
    assert.equal(atLimit.kind === 'send' && atLimit.trimmed, undefined);
    const under = forward(full, {}, size - 1);
    assert.equal(under.kind === 'send' && under.trimmed, 'content');
  });

  it('a notification Herald made itself (no received form) forwards its normalised fields', () => {
    const normalized = normalizeNotification(request(full));
    const { received: _received, ...made } = normalized;
    const [device] = made.devices;
    assert.ok(device);
    const { devices: _devices, ...fields } = made;
    assert.deepEqual(bodyOf(buildForward(made, device, 4096)), { notification: fields });
  });
});
