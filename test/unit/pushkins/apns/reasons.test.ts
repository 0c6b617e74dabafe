import assert from 'node:assert/strict';
import { classifyAnswer, type Verdict } from '../../../../src/pushkins/apns/reasons';

describe('pushkins/apns/reasons', () => {
  const table: Array<[number, string | undefined, Verdict]> = [
    [400, 'BadDeviceToken', 'rejected'],
    [400, 'DeviceTokenNotForTopic', 'rejected'],
    [410, 'Unregistered', 'rejected'],
    [410, 'ExpiredToken', 'rejected'],
    [403, 'BadCertificate', 'misconfigured'],
    [403, 'BadCertificateEnvironment', 'misconfigured'],
    [403, 'ExpiredProviderToken', 'misconfigured'],
    [403, 'InvalidProviderToken', 'misconfigured'],
    [403, 'MissingProviderToken', 'misconfigured'],
    [403, 'Forbidden', 'misconfigured'],
    [403, undefined, 'misconfigured'],
    [403, 'SomethingNew', 'misconfigured'],
    [400, 'TopicDisallowed', 'misconfigured'],
    [400, 'BadTopic', 'misconfigured'],
    [400, 'MissingTopic', 'misconfigured'],
    [400, 'InvalidPushType', 'misconfigured'],
    [429, 'TooManyRequests', 'retry'],
    [429, undefined, 'retry'],
    [500, 'InternalServerError', 'retry'],
    [500, undefined, 'retry'],
    [502, undefined, 'retry'],
    [503, 'ServiceUnavailable', 'retry'],
    [503, 'Shutdown', 'retry'],
    [413, 'PayloadTooLarge', 'failed'],
    [400, 'PayloadEmpty', 'failed'],
    [400, 'SomethingNew', 'failed'],
    [400, undefined, 'failed'],
    [410, 'SomethingNew', 'failed'],
    [404, 'BadPath', 'failed'],
  ];
  for (const [status, reason, verdict] of table) {
    it(`${status} ${reason ?? '(no reason)'} → ${verdict}`, () => {
      assert.equal(classifyAnswer(status, reason).verdict, verdict);
    });
  }

  it('never rejects what it does not know', () => {
    for (const status of [400, 401, 403, 404, 410, 413, 429, 500, 503, 599]) {
      for (const reason of [undefined, 'Unknown', 'unregistered', 'BadDeviceToken ']) {
        const result = classifyAnswer(status, reason);
        assert.notEqual(result.verdict, 'rejected', `${status} ${reason}`);
        assert.equal(result.known, false);
      }
    }
  });

  it('a dead-token reason under another status is not a rejection', () => {
    assert.notEqual(classifyAnswer(410, 'BadDeviceToken').verdict, 'rejected');
    assert.notEqual(classifyAnswer(400, 'Unregistered').verdict, 'rejected');
  });

});
