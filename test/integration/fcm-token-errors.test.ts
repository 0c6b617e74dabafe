import assert from 'node:assert/strict';
import { FcmMock, testKeys } from '../upstreams/fcm-mock';
import { metric, notifyBody, startGateway, type RunningGateway } from '../helpers/gateway';

const APP = 'com.example.android';

/** herald_fcm_token_errors_total: failed access-token requests, by reason, per app. */
describe('FCM token endpoint failures in herald_fcm_token_errors_total', function () {
  this.timeout(30_000);
  let mock: FcmMock;
  let gw: RunningGateway | undefined;
  before(() => testKeys());
  beforeEach(async () => {
    mock = await FcmMock.start();
  });
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
    await mock.close();
  });

  async function notify(g: RunningGateway, pushkey: string): Promise<{ status: number; outcomes: string[] }> {
    const response = await fetch(`${g.url}/_matrix/push/v1/notify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(notifyBody({}, { app_id: APP, pushkey })),
    });
    const body = (await response.json()) as { devices?: Array<{ outcome: string }> };
    return { status: response.status, outcomes: (body.devices ?? []).map((d) => d.outcome) };
  }

  it('a refused sign-in (invalid_grant) counts as refused; the device is answered 502, not rejected', async () => {
    gw = await startGateway(`apps:\n${mock.appYaml(APP, '')}\n`);
    mock.tokenScript.push({ status: 400, body: { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' } });
    const answer = await notify(gw, 'tok-refused');
    assert.equal(answer.status, 502);
    assert.deepEqual(answer.outcomes, ['misconfigured']);
    assert.equal(await metric(gw, 'herald_fcm_token_errors_total', { pushkin: APP, reason: 'refused' }), 1);
    assert.equal(mock.sends.length, 0);
  });

  it('an unavailable token endpoint counts as unavailable', async () => {
    gw = await startGateway(`apps:\n${mock.appYaml(APP, '')}\n`);
    mock.tokenScript.push({ status: 503, body: {} });
    await notify(gw, 'tok-unavailable');
    assert.ok((await metric(gw, 'herald_fcm_token_errors_total', { pushkin: APP, reason: 'unavailable' })) >= 1);
    assert.equal(await metric(gw, 'herald_fcm_token_errors_total', { pushkin: APP, reason: 'refused' }), 0);
  });
});
