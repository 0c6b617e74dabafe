import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { ApnsHarness, device } from '../helpers/apns-harness';
import type { ApnsMock } from '../upstreams/apns-mock';
import { ConnectProxy } from '../helpers/connect-proxy';
import { FcmMock } from '../upstreams/fcm-mock';
import { HeraldProcess } from '../helpers/process';

const APNS_APP = 'com.example.ios';
const FCM_APP = 'com.example.android';

/**
 * The outbound proxy end to end: the built herald sends APNs (token and certificate
 * authentication, trusting the test CA through the app's ca_file), FCM and OAuth traffic
 * through an authenticating CONNECT proxy.
 */
describe('outbound proxy', function () {
  this.timeout(60_000);
  const harness = new ApnsHarness();
  let apns: ApnsMock;
  let fcm: FcmMock;
  let proxy: ConnectProxy;
  let herald: HeraldProcess | undefined;

  beforeEach(async () => {
    apns = await harness.mock();
    fcm = await FcmMock.start();
    proxy = await ConnectProxy.start('herald', 's3cret:pw');
  });
  afterEach(async () => {
    await herald?.stop();
    herald = undefined;
    await proxy.close();
    await fcm.close();
    await harness.close();
  });

  async function startHerald(proxyUrl: string, apnsApp = harness.tokenApp(apns)): Promise<string> {
    const apps = `apps:\n  ${APNS_APP}: ${JSON.stringify(apnsApp)}\n${fcm.appYaml(FCM_APP)}\n`;
    herald = HeraldProcess.withConfig(`http: {port: 0, notify_deadline_ms: 5000}\nlog: {level: debug}\nproxy: ${JSON.stringify(proxyUrl)}\n${apps}`, { NO_PROXY: '' });
    return herald.url();
  }

  let event = 0;
  async function notify(url: string, appId: string, pushkey: string): Promise<{ status: number; body: { rejected: string[] } }> {
    const response = await fetch(`${url}/_matrix/push/v1/notify`, {
      method: 'POST',
      body: JSON.stringify({
        notification: {
          event_id: `$proxy${++event}`,
          room_id: '!r:x',
          type: 'm.room.message',
          sender: '@a:x',
          content: { msgtype: 'm.text', body: 'hi' },
          devices: [{ app_id: appId, pushkey }],
        },
      }),
    });
    return { status: response.status, body: (await response.json()) as { rejected: string[] } };
  }

  it('tunnels APNs, FCM and token traffic through the proxy with basic authentication', async () => {
    const url = await startHerald(proxy.url.replace('http://', 'http://herald:s3cret%3Apw@'));
    const ios = device('proxy-ios');
    assert.deepEqual(await notify(url, APNS_APP, ios.pushkey), { status: 200, body: { rejected: [] } });
    assert.deepEqual(await notify(url, FCM_APP, 'fcm-token-1'), { status: 200, body: { rejected: [] } });

    assert.equal(apns.requestsFor(ios.hex).length, 1);
    assert.equal(fcm.sends.length, 1);
    assert.equal(fcm.tokenRequests.length, 1);
    assert.ok(proxy.tunnelsTo(apns.port).length >= 1, 'APNs went through the proxy');
    assert.ok(proxy.tunnelsTo(Number(new URL(fcm.url).port)).length >= 2, 'FCM and the token endpoint went through the proxy');
    const expected = `Basic ${Buffer.from('herald:s3cret:pw').toString('base64')}`;
    assert.deepEqual(new Set(proxy.tunnels.map((t) => t.authorization)), new Set([expected]));
  });

  it('presents the APNs client certificate inside the tunnel, with TLS end to end', async () => {
    // A mock that, like Apple, answers 403 unless the client certificate carries the sandbox push OID.
    apns = await harness.mock({ token: undefined, certificate: 'sandbox' });
    const certApp = harness.certApp(apns, harness.pki.clientCerts.sandbox, { request_timeout_ms: 3_000 });
    const url = await startHerald(proxy.url.replace('http://', 'http://herald:s3cret%3Apw@'), certApp);
    const ios = device('proxy-certificate');
    assert.deepEqual(await notify(url, APNS_APP, ios.pushkey), { status: 200, body: { rejected: [] } });

    assert.equal(apns.requestsFor(ios.hex).length, 1);
    const tunnels = proxy.tunnelsTo(apns.port);
    assert.ok(tunnels.length >= 1, 'APNs went through the proxy');
    const expected = `Basic ${Buffer.from('herald:s3cret:pw').toString('base64')}`;
    for (const tunnel of tunnels) {
      assert.equal(tunnel.authorization, expected);
      assert.equal(tunnel.firstBytes?.[0], 0x16, 'the proxy sees a TLS handshake record, not HTTP/2 in the clear');
    }
  });

  it('answers 502 and logs why when the proxy refuses an APNs certificate app', async () => {
    apns = await harness.mock({ token: undefined, certificate: 'sandbox' });
    const certApp = harness.certApp(apns, harness.pki.clientCerts.sandbox, { request_timeout_ms: 3_000 });
    const url = await startHerald(proxy.url.replace('http://', 'http://herald:wrong@'), certApp);
    const answer = await notify(url, APNS_APP, device('proxy-certificate-refused').pushkey);
    assert.equal(answer.status, 502);
    assert.deepEqual(answer.body.rejected, []);
    const warning = await herald!.waitFor(/APNs connection through the proxy failed/);
    assert.match(String(warning.msg), /407/);
    assert.equal(warning.proxy, `127.0.0.1:${proxy.port}`, 'the proxy is named without its credentials');
    assert.equal(apns.requests.length, 0);
  });

  it('recovers APNs pushes by itself after the proxy restarts', async () => {
    const url = await startHerald(proxy.url.replace('http://', 'http://herald:s3cret%3Apw@'));
    const ios = device('proxy-restart');
    assert.equal((await notify(url, APNS_APP, ios.pushkey)).status, 200);
    const tunnelsBefore = proxy.tunnelsTo(apns.port).length;

    await proxy.restart();
    // The homeserver retries what is answered 502; within a few tries pushes go through again.
    let status = 0;
    for (let attempt = 0; attempt < 20 && status !== 200; attempt++) {
      const answer = await notify(url, APNS_APP, ios.pushkey);
      status = answer.status;
      assert.deepEqual(answer.body.rejected ?? [], [], 'a proxy failure never rejects a pushkey');
      if (status !== 200) await delay(250);
    }
    assert.equal(status, 200);
    assert.ok(proxy.tunnelsTo(apns.port).length > tunnelsBefore, 'a new tunnel was opened');
  });

  it('answers 502 without rejecting anything when the proxy refuses the credentials', async () => {
    const url = await startHerald(proxy.url.replace('http://', 'http://herald:wrong@'));
    const ios = device('proxy-refused');
    const apnsAnswer = await notify(url, APNS_APP, ios.pushkey);
    assert.equal(apnsAnswer.status, 502);
    assert.deepEqual(apnsAnswer.body.rejected, []);
    const fcmAnswer = await notify(url, FCM_APP, 'fcm-token-2');
    assert.equal(fcmAnswer.status, 502);
    assert.deepEqual(fcmAnswer.body.rejected, []);
    assert.equal(apns.requests.length, 0);
    assert.equal(fcm.sends.length, 0);
  });
});
