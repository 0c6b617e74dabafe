import assert from 'node:assert/strict';
import { AppRouter, globToRegExp } from '../../../src/dispatch/router';

describe('dispatch/router', () => {
  // The example of push-gateway-facts §3.
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
});
