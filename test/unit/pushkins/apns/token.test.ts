import assert from 'node:assert/strict';
import { deviceToken } from '../../../../src/pushkins/apns/token';

describe('pushkins/apns/token', () => {
  const bytes = Buffer.from('00fe7a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7', 'hex');

  it('converts a base64 pushkey to a hex token', () => {
    assert.deepEqual(deviceToken(bytes.toString('base64'), true), { ok: true, hex: bytes.toString('hex') });
  });

  it('accepts URL-safe base64 and missing padding', () => {
    const odd = Buffer.from([0xfb, 0xff, 0xfe, 0x01, 0x02]);
    assert.deepEqual(deviceToken(odd.toString('base64url'), true), { ok: true, hex: 'fbfffe0102' });
    assert.deepEqual(deviceToken(odd.toString('base64'), true), { ok: true, hex: 'fbfffe0102' });
  });

  it('assumes no fixed length (Sygnal tests use a 3-byte token)', () => {
    assert.deepEqual(deviceToken(Buffer.from([1, 2, 3]).toString('base64'), true), { ok: true, hex: '010203' });
    const long = Buffer.alloc(100, 7);
    assert.deepEqual(deviceToken(long.toString('base64'), true), { ok: true, hex: long.toString('hex') });
  });

  it('uses exactly 64 hex characters as they are, even with conversion on', () => {
    const hex = bytes.toString('hex');
    assert.deepEqual(deviceToken(hex, true), { ok: true, hex });
    assert.deepEqual(deviceToken(hex.toUpperCase(), true), { ok: true, hex });
  });

  it('with conversion off, takes hex pushkeys of any length and refuses anything else', () => {
    assert.deepEqual(deviceToken('0a0b0c', false), { ok: true, hex: '0a0b0c' });
    assert.equal(deviceToken(bytes.toString('base64'), false).ok, false);
    assert.equal(deviceToken('abc', false).ok, false, 'odd length is not bytes');
  });

  const bad: Array<[string, string]> = [
    ['empty', ''],
    ['spaces and punctuation', 'not base64!'],
    ['a path', '../../3/device/x'],
    ['a query', 'abcd?x=1'],
    ['one stray character', 'abcde'],
    ['padding in the middle', 'ab=cd'],
    ['too much padding', 'a==='],
    ['padding that does not complete a group', 'abc=='],
  ];
  for (const [name, pushkey] of bad) {
    it(`rejects ${name}`, () => {
      const result = deviceToken(pushkey, true);
      assert.equal(result.ok, false, JSON.stringify(result));
    });
  }

  it('only ever returns hex, so nothing else can reach the URL path', () => {
    for (const pushkey of ['AAAA', 'AA', '/+/+', '-_-_', bytes.toString('hex'), 'x'.repeat(64)]) {
      const result = deviceToken(pushkey, true);
      if (result.ok) assert.match(result.hex, /^[0-9a-f]+$/);
    }
  });
});
