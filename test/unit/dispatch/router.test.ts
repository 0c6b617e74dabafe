import assert from 'node:assert/strict';
import { AppRouter, globsOverlap, globToRegExp } from '../../../src/dispatch/router';

describe('dispatch/router', () => {
  // Exact keys beside globs: an exact key wins, else exactly one glob must match.
  const router = new AppRouter<string>([
    ['com.example.apns', 'exact'],
    ['*.example.*', 'glob-star'],
    ['com.example.a*', 'glob-a'],
    ['org.single.?', 'glob-one'],
  ]);

  const cases: Array<[string, string]> = [
    ['com.example.apns', 'found exact'],
    ['com.example.bpns', 'found glob-star'],
    ['com.example.apns2', 'ambiguous'],
    ['org.single.x', 'found glob-one'],
    ['org.single.xy', 'unknown'],
    ['COM.EXAMPLE.APNS', 'unknown'],
    ['xcom.example.apns', 'found glob-star'],
    ['com.other', 'unknown'],
  ];
  for (const [appId, expected] of cases) {
    it(`${appId} → ${expected}`, () => {
      const route = router.route(appId);
      const text = route.kind === 'found' ? `found ${route.target}` : route.kind;
      assert.equal(text, expected);
    });
  }

  it('lists the globs that make an app_id ambiguous', () => {
    assert.deepEqual(router.route('com.example.apns2'), { kind: 'ambiguous', matches: ['*.example.*', 'com.example.a*'] });
  });

  it('escapes regular-expression characters in keys and anchors both ends', () => {
    assert.equal(globToRegExp('a.b*').test('axb'), false);
    assert.equal(globToRegExp('a+b(c)*').test('a+b(c)d'), true);
    assert.equal(globToRegExp('ab').test('xab'), false);
  });

  it('answers the same after many distinct app_ids (bounded cache)', () => {
    for (let i = 0; i < 10_000; i++) router.route(`junk.${i}`);
    assert.equal(router.route('com.example.bpns').kind, 'found');
  });

  describe('globsOverlap: whether two globs can match the same app_id', () => {
    const table: ReadonlyArray<readonly [string, string, boolean]> = [
      ['com.example.*', 'com.*.ios', true],
      ['*', 'com.example.*', true],
      ['com.example.*', 'org.example.*', false],
      ['*.ios', '*.android', false],
      ['a?c', '?b?', true],
      ['a?', 'a??', false],
      ['a*b', 'a*c', false],
      ['*a*', '*b*', true],
      ['a*', '*b', true],
      ['??', '*x*y*', true],
      ['?', '*x*y*', false],
      ['com.*.ios', 'com.*.ios.*', true],
      ['com.*.ios', 'com.*.ios?', false],
      ['org.example.*.push', 'org.*.app.*', true],
      ['*', '**', true],
    ];
    for (const [a, b, overlap] of table) {
      it(`${a} / ${b}: ${overlap ? 'overlap' : 'disjoint'}`, () => {
        for (const [x, y] of [[a, b], [b, a]] as const) {
          const witness = globsOverlap(x, y);
          if (!overlap) {
            assert.equal(witness, undefined);
            continue;
          }
          assert.ok(witness !== undefined, 'an app_id both match');
          // The example given is one both globs really match.
          assert.ok(globToRegExp(x).test(witness), `${x} matches ${witness}`);
          assert.ok(globToRegExp(y).test(witness), `${y} matches ${witness}`);
        }
      });
    }

    it('agrees with matching every short app_id over the letters the globs use', () => {
      const globs = ['a*', '*b', 'a?b', '?', '??*', 'ab', '*a*b*', 'b*a', '?a?'];
      const ids = [''];
      for (let length = 1; length <= 5; length++) for (const id of ids.filter((s) => s.length === length - 1)) ids.push(`${id}a`, `${id}b`, `${id}c`);
      for (const a of globs) {
        for (const b of globs) {
          const brute = ids.some((id) => globToRegExp(a).test(id) && globToRegExp(b).test(id));
          assert.equal(globsOverlap(a, b) !== undefined, brute, `${a} / ${b}`);
        }
      }
    });
  });
});
