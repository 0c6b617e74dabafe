import assert from 'node:assert/strict';
import { parseRetryAfter } from '../../../src/pushkins/retry';

describe('pushkins/retry', () => {
  describe('parseRetryAfter', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const cases: Array<[string, string | string[] | undefined, number | undefined]> = [
      ['delta-seconds', '5', 5_000],
      ['delta-seconds with spaces', ' 0 ', 0],
      ['the first of a repeated header', ['2', '9'], 2_000],
      ['an HTTP date ahead', 'Thu, 01 Jan 2026 00:00:30 GMT', 30_000],
      ['an HTTP date past (now)', 'Wed, 31 Dec 2025 23:00:00 GMT', 0],
      ['absent', undefined, undefined],
      ['empty', '', undefined],
      ['blank', '  ', undefined],
      ['an empty repeated header', [], undefined],
      ['unreadable', 'soon', undefined],
    ];
    for (const [what, header, expected] of cases) {
      it(`${what}: ${JSON.stringify(header)} → ${String(expected)}`, () => {
        assert.equal(parseRetryAfter(header, now), expected);
      });
    }
  });
});
