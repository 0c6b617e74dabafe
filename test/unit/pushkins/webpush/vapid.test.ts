import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import type { Clock } from '../../../../src/util/clock';
import { VAPID_JWT_LIFETIME_S, VapidSigner } from '../../../../src/pushkins/webpush/signer';
import { newVapidKeyPair, parseVapidPrivateKey } from '../../../../src/pushkins/webpush/vapid';

function claimsOf(header: string): { claims: Record<string, unknown>; verified: boolean } {
  const [, token = '', k = ''] = /^vapid t=([^,]+), k=(.+)$/.exec(header) ?? [];
  const [h, c, s] = token.split('.') as [string, string, string];
  const point = Buffer.from(k, 'base64url');
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') }, format: 'jwk' });
  const verified = verify('sha256', Buffer.from(`${h}.${c}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
  return { claims: JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as Record<string, unknown>, verified };
}

describe('pushkins/webpush/vapid', () => {
  const pair = newVapidKeyPair();
  const parsed = parseVapidPrivateKey(pair.pem);
  assert.ok('keys' in parsed);
  let now = Date.now();
  const clock: Clock = { now: () => now, sleep: () => Promise.resolve() };

  it('signs a JWT per origin (aud), verifiable with k, with exp 12 h ahead and the mailto: sub', () => {
    const signer = new VapidSigner(parsed.keys, 'mailto:ops@example.com', clock);
    const { claims, verified } = claimsOf(signer.authorization('https://fcm.googleapis.com'));
    assert.ok(verified);
    assert.deepEqual(claims, { aud: 'https://fcm.googleapis.com', exp: Math.floor(now / 1000) + VAPID_JWT_LIFETIME_S, sub: 'mailto:ops@example.com' });
    assert.equal(claimsOf(signer.authorization('https://web.push.apple.com')).claims.aud, 'https://web.push.apple.com');
  });

  it('reuses a signature for an hour, then signs again', () => {
    const signer = new VapidSigner(parsed.keys, 'mailto:ops@example.com', clock);
    const first = signer.authorization('https://push.example.com');
    now += 59 * 60 * 1000;
    assert.equal(signer.authorization('https://push.example.com'), first);
    now += 2 * 60 * 1000;
    const renewed = signer.authorization('https://push.example.com');
    assert.notEqual(renewed, first);
    assert.equal(claimsOf(renewed).claims.exp, Math.floor(now / 1000) + VAPID_JWT_LIFETIME_S);
  });
});
