import assert from 'node:assert/strict';
import { jsonCost, truncatePayload } from '../../../../src/pushkins/apns/truncate';

const LIMIT = 4096;

function alertPayload(args: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { aps: { alert: { 'loc-key': 'MSG_FROM_USER_IN_ROOM_WITH_CONTENT', 'loc-args': args }, badge: 1 }, room_id: '!r:x', event_id: '$e:x', ...extra };
}

function fitted(payload: Record<string, unknown>, limit = LIMIT): { json: string; payload: Record<string, unknown>; bytes: number } {
  const result = truncatePayload(payload, limit);
  assert.ok(result.ok, 'expected the payload to fit');
  assert.equal(Buffer.byteLength(result.json), result.bytes);
  assert.ok(result.bytes <= limit, `${result.bytes} > ${limit}`);
  assert.equal(result.json, JSON.stringify(result.payload), 'json is the payload as sent');
  return result;
}

function args(payload: Record<string, unknown>): string[] {
  return ((payload.aps as { alert: { 'loc-args': string[] } }).alert)['loc-args'];
}

describe('pushkins/apns/truncate', () => {
  it('leaves a payload that fits untouched', () => {
    const payload = alertPayload(['Alice', 'Lunch', 'hi']);
    const result = truncatePayload(payload, LIMIT);
    assert.ok(result.ok && !result.truncated);
    assert.equal(result.json, JSON.stringify(payload));
  });

  it('ASCII: cuts the longest field to exactly the limit, leaving the others and every key alone', () => {
    const payload = alertPayload(['Alice', 'Lunch', 'x'.repeat(6000)]);
    const result = fitted(payload);
    assert.equal(result.bytes, LIMIT, 'one byte per character: it lands exactly on the limit');
    assert.deepEqual(args(result.payload).slice(0, 2), ['Alice', 'Lunch']);
    assert.equal(((result.payload.aps as { alert: Record<string, unknown> }).alert)['loc-key'], 'MSG_FROM_USER_IN_ROOM_WITH_CONTENT');
    assert.equal(result.payload.event_id, '$e:x');
    assert.equal(args(payload)[2]?.length, 6000, 'the input was not changed');
  });

  for (const [name, unit] of [
    ['accented text (2-byte characters)', 'é'],
    ['CJK (3-byte characters)', '漢'],
    ['emoji (4-byte characters, surrogate pairs)', '🎉'],
    ['mixed text', 'aé漢🎉'],
  ] as const) {
    it(`${name}: never splits a character`, () => {
      const body = unit.repeat(3000);
      const result = fitted(alertPayload(['Alice', 'Lunch', body]));
      const cut = args(result.payload)[2] as string;
      assert.ok(body.startsWith(cut));
      assert.equal(cut.includes('\ufffd'), false);
      assert.equal(Buffer.from(cut, 'utf8').toString('utf8'), cut, 'valid UTF-16, no lone surrogate');
      assert.ok(result.bytes > LIMIT - 4, `no more was cut than one character's worth (${result.bytes})`);
    });
  }

  it('several long fields: shortens the longest first, so they end up level', () => {
    const result = fitted(alertPayload(['a'.repeat(3000), 'b'.repeat(2500), 'c'.repeat(1000)]));
    const [a, b, c] = args(result.payload) as [string, string, string];
    assert.equal(c.length, 1000, 'the short field was never the longest');
    assert.ok(Math.abs(a.length - b.length) <= 1, `${a.length} vs ${b.length}`);
    assert.ok(a.length <= b.length, 'ties go to the first field, so it is cut first');
  });

  it('measures "longest" in UTF-8 bytes', () => {
    // 1000 emoji are 4000 bytes: longer than 1500 ASCII characters, though fewer characters.
    const result = fitted(alertPayload(['🎉'.repeat(1000), 'x'.repeat(1500)]));
    const [emoji, ascii] = args(result.payload) as [string, string];
    assert.equal(ascii.length, 1500);
    assert.ok([...emoji].length < 1000);
  });

  it('cuts a string alert, or alert.body before loc-args', () => {
    const stringAlert = fitted({ aps: { alert: 'y'.repeat(5000) } });
    assert.equal(((stringAlert.payload.aps as { alert: string }).alert).length, LIMIT - '{"aps":{"alert":""}}'.length);

    const body = fitted({ aps: { alert: { body: 'z'.repeat(5000), 'loc-args': ['z'.repeat(5000)] } } });
    const alert = (body.payload.aps as { alert: { body: string; 'loc-args': string[] } }).alert;
    assert.ok(Math.abs(alert.body.length - (alert['loc-args'][0] as string).length) <= 1);
  });

  it('counts JSON escapes: quotes, backslashes, newlines and control characters', () => {
    const result = fitted(alertPayload(['Alice', 'Lunch', '"\\\n\u0001'.repeat(2000)]));
    assert.ok(result.bytes <= LIMIT && result.bytes > LIMIT - 6);
    for (const [char, cost] of [['"', 2], ['\\', 2], ['\n', 2], ['\u0001', 6], ['a', 1], ['é', 2], ['漢', 3], ['🎉', 4], ['\ud800', 6]] as const) {
      assert.equal(jsonCost(char), cost, JSON.stringify(char));
      assert.equal(jsonCost(char), Buffer.byteLength(JSON.stringify(char)) - 2, `matches JSON.stringify for ${JSON.stringify(char)}`);
    }
  });

  it('fails when nothing choppable can make it fit', () => {
    const result = truncatePayload(alertPayload(['Alice', 'Lunch', 'hi'], { blob: 'x'.repeat(5000) }), LIMIT);
    assert.equal(result.ok, false);
    assert.ok(!result.ok && result.bytes > LIMIT);
    assert.equal(truncatePayload({ unread_count: 1, blob: 'x'.repeat(5000) }, LIMIT).ok, false, 'no aps at all');
  });

  it('honours a larger limit (VoIP)', () => {
    assert.ok(fitted(alertPayload(['a', 'b', 'x'.repeat(8000)]), 5120).bytes === 5120);
  });

  it('is fast on a huge body', () => {
    const result = truncatePayload(alertPayload(['Alice', 'Lunch', 'é'.repeat(500_000)]), LIMIT);
    assert.ok(result.ok);
  });
});
