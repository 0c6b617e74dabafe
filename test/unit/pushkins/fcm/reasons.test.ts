import assert from 'node:assert/strict';
import { classifyFcmError, parseFcmError } from '../../../../src/pushkins/fcm/reasons';

const FCM_ERROR = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';

function body(code: number, status: string, message: string, errorCode?: string, extra: object[] = []): string {
  const details = [...(errorCode ? [{ '@type': FCM_ERROR, errorCode }] : []), ...extra];
  return JSON.stringify({ error: { code, message, status, details } });
}

describe('pushkins/fcm/reasons', () => {
  const table: Array<[string, number, string, string]> = [
    // name, HTTP status, body, expected kind
    ['404 UNREGISTERED', 404, body(404, 'NOT_FOUND', 'Requested entity was not found.', 'UNREGISTERED'), 'rejected'],
    ['400 INVALID_ARGUMENT, invalid registration token', 400, body(400, 'INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token', 'INVALID_ARGUMENT'), 'rejected'],
    [
      '400 INVALID_ARGUMENT, BadRequest on message.token',
      400,
      body(400, 'INVALID_ARGUMENT', 'Invalid value', undefined, [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'message.token', description: 'Invalid registration token' }] }]),
      'rejected',
    ],
    ['400 INVALID_ARGUMENT about the payload', 400, body(400, 'INVALID_ARGUMENT', "Invalid value at 'message.data[0].value'", 'INVALID_ARGUMENT'), 'failed'],
    ['403 SENDER_ID_MISMATCH', 403, body(403, 'PERMISSION_DENIED', 'SenderId mismatch', 'SENDER_ID_MISMATCH'), 'misconfigured'],
    ['401 THIRD_PARTY_AUTH_ERROR', 401, body(401, 'UNAUTHENTICATED', 'Auth error from APNS or Web Push Service', 'THIRD_PARTY_AUTH_ERROR'), 'misconfigured'],
    ['403 PERMISSION_DENIED (IAM)', 403, body(403, 'PERMISSION_DENIED', "Permission 'cloudmessaging.messages.create' denied"), 'misconfigured'],
    ['401 UNAUTHENTICATED (our access token)', 401, body(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.'), 'renew-token'],
    ['429 QUOTA_EXCEEDED', 429, body(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded', 'QUOTA_EXCEEDED'), 'retry'],
    ['503 UNAVAILABLE', 503, body(503, 'UNAVAILABLE', 'The service is currently unavailable.', 'UNAVAILABLE'), 'retry'],
    ['500 INTERNAL', 500, body(500, 'INTERNAL', 'Internal error encountered.', 'INTERNAL'), 'retry'],
    ['502 from a load balancer (HTML)', 502, '<html>Bad Gateway</html>', 'retry'],
    ['429 without a body', 429, '', 'retry'],
    ['404 that is not FCM (wrong endpoint)', 404, '<html>Not Found</html>', 'misconfigured'],
    ['404 NOT_FOUND in FCM JSON without UNREGISTERED', 404, body(404, 'NOT_FOUND', 'Requested entity was not found.'), 'failed'],
    ['400 HTML', 400, '<html>Bad Request</html>', 'failed'],
    ['413 with no body', 413, '', 'failed'],
  ];
  for (const [name, status, text, kind] of table) {
    it(`${name} → ${kind}`, () => {
      assert.equal(classifyFcmError(parseFcmError(status, text)).kind, kind);
    });
  }

  it('never rejects for configuration problems, whatever the HTTP status', () => {
    for (const code of ['SENDER_ID_MISMATCH', 'THIRD_PARTY_AUTH_ERROR']) {
      for (const status of [400, 401, 403, 404]) {
        assert.notEqual(classifyFcmError(parseFcmError(status, body(status, 'X', 'm', code))).kind, 'rejected');
      }
    }
  });

  it('reads status, errorCode and message from the body', () => {
    const parsed = parseFcmError(404, body(404, 'NOT_FOUND', 'Requested entity was not found.', 'UNREGISTERED'));
    assert.deepEqual(parsed, {
      httpStatus: 404,
      status: 'NOT_FOUND',
      errorCode: 'UNREGISTERED',
      message: 'Requested entity was not found.',
      badTokenField: false,
      fromFcm: true,
    });
    assert.deepEqual(parseFcmError(500, 'oops'), { httpStatus: 500, badTokenField: false, fromFcm: false });
  });

  it('passes Retry-After through on retries; labels configuration problems', () => {
    const retry = classifyFcmError(parseFcmError(429, body(429, 'RESOURCE_EXHAUSTED', 'q', 'QUOTA_EXCEEDED')), 7000);
    assert.deepEqual(retry, { kind: 'retry', reason: 'FCM 429 QUOTA_EXCEEDED', retryAfterMs: 7000 });
    const mis = classifyFcmError(parseFcmError(403, body(403, 'PERMISSION_DENIED', 'SenderId mismatch', 'SENDER_ID_MISMATCH')));
    assert.equal(mis.kind === 'misconfigured' && mis.label, 'SENDER_ID_MISMATCH');
  });

});
