import assert from 'node:assert/strict';
import { deeperThan, entriesWithinDepth, MAX_JSON_DEPTH } from '../../../src/notification/depth';

/** `levels` arrays inside each other around `inner`. */
function nested(levels: number, inner: unknown = 1): unknown {
  let value = inner;
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}

describe('notification/depth', () => {
  describe('deeperThan', () => {
    const cases: Array<[string, unknown, number, boolean]> = [
      ['a scalar is depth 0', 'text', 0, false],
      ['null is depth 0', null, 0, false],
      ['an empty object is depth 1', {}, 0, true],
      ['an empty object within 1', {}, 1, false],
      ['an object holding an array is depth 2', { a: [] }, 1, true],
      ['an object holding an array within 2', { a: [] }, 2, false],
      ['exactly the limit', nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH, false],
      ['one past the limit', nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH, true],
      ['the deepest branch counts, not the first', { a: 1, b: { c: { d: {} } } }, 3, true],
      ['wide and shallow', { list: Array.from({ length: 1000 }, (_, i) => ({ i })) }, 3, false],
      ['100,000 levels, without overflowing the stack', nested(100_000), MAX_JSON_DEPTH, true],
      ['objects nested 100,000 levels', JSON.parse('{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000)), MAX_JSON_DEPTH, true],
    ];
    for (const [name, value, limit, expected] of cases) {
      it(name, () => assert.equal(deeperThan(value, limit), expected));
    }
  });

  describe('entriesWithinDepth', () => {
    it('returns the record itself when nothing is too deep', () => {
      const record = { body: 'hi', relates: { rel_type: 'm.thread' } };
      const { kept, dropped } = entriesWithinDepth(record, 2);
      assert.equal(kept, record);
      assert.deepEqual(dropped, []);
    });

    it('drops only the entries nested past the limit', () => {
      const { kept, dropped } = entriesWithinDepth({ body: 'hi', deep: nested(5_000), shallow: [[1]] }, 2);
      assert.deepEqual(kept, { body: 'hi', shallow: [[1]] });
      assert.deepEqual(dropped, ['deep']);
    });

    it('keeps a "__proto__" key from JSON as a plain key', () => {
      const record = JSON.parse('{"__proto__": {"x": 1}, "deep": [[[[1]]]]}') as Record<string, unknown>;
      const { kept } = entriesWithinDepth(record, 2);
      assert.deepEqual(Object.keys(kept), ['__proto__']);
      assert.equal(Object.getPrototypeOf(kept), Object.prototype);
    });
  });
});
