import assert from 'node:assert/strict';
import { RejectionGuard } from '../../../../src/pushkins/apns/rejection-guard';

describe('pushkins/apns/rejection-guard', () => {
  it('takes the same ambiguous answer for several different devices in a row as our mistake', () => {
    const guard = new RejectionGuard(3);
    assert.equal(guard.misconfigured('BadDeviceToken', 'a'), false);
    assert.equal(guard.misconfigured('BadDeviceToken', 'a'), false, 'the same device again does not count twice');
    assert.equal(guard.misconfigured('DeviceTokenNotForTopic', 'b'), false);
    assert.equal(guard.misconfigured('BadDeviceToken', 'c'), true);
    assert.equal(guard.misconfigured('BadDeviceToken', 'd'), true);
  });

  it('starts over after a delivery, and ignores reasons that are never ambiguous', () => {
    const guard = new RejectionGuard(2);
    assert.equal(guard.misconfigured('BadDeviceToken', 'a'), false);
    guard.delivered();
    assert.equal(guard.misconfigured('BadDeviceToken', 'b'), false);
    assert.equal(guard.misconfigured('Unregistered', 'c'), false);
    assert.equal(guard.misconfigured(undefined, 'd'), false);
    assert.equal(guard.misconfigured('BadDeviceToken', 'e'), true);
  });
});
