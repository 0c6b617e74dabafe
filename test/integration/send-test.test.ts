import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApnsHarness, device } from '../helpers/apns-harness';
import type { ApnsMock } from '../upstreams/apns-mock';
import { FCM, FcmMock } from '../upstreams/fcm-mock';
import { unusedPort } from '../upstreams/ports';
import { runHerald } from '../helpers/process';
import { tempDir } from '../upstreams/temp';

/** `herald send-test` against the APNs and FCM mocks: what the platform said, and what it means. */
describe('herald send-test against the platforms', function () {
  this.timeout(30_000);
  const harness = new ApnsHarness();
  let apns: ApnsMock;
  let fcm: FcmMock;
  let configFile: string;

  before(async () => {
    apns = await harness.mock();
    fcm = await FcmMock.start();
    configFile = join(tempDir('send-test'), 'herald.yaml');
    writeFileSync(configFile, `apps:\n  com.example.ios: ${JSON.stringify(harness.tokenApp(apns))}\n${fcm.appYaml('com.example.android')}\n`);
  });
  after(async () => {
    await fcm.close();
    await harness.close();
  });

  it('delivers through APNs, with the message given', async () => {
    const ios = device('send-test-ok');
    const result = await runHerald(['send-test', '--config', configFile, '--app-id', 'com.example.ios', '--pushkey', ios.pushkey, '--message', 'Hello from the test']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /^result: {2}delivered$/m);
    const [request] = apns.requestsFor(ios.hex);
    assert.equal((request?.json as { aps: { alert: { 'loc-args': string[] } } }).aps.alert['loc-args'][2], 'Hello from the test');
  });

  it("explains APNs' BadDeviceToken as a sandbox/production mix-up", async () => {
    const ios = device('send-test-bad');
    apns.script(ios.hex, { status: 400, reason: 'BadDeviceToken' });
    const result = await runHerald(['send-test', '--config', configFile, '--app-id', 'com.example.ios', '--pushkey', ios.pushkey]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^result: {2}rejected \(.*BadDeviceToken.*\)$/m);
    assert.match(result.stdout, /^meaning: .*sandbox.*platform/m);
  });

  // Every attempt is refused and retried with backoff: the process must wait for the
  // retries (it once ran out of work mid-backoff and exited 0 with no result).
  it('ends with a result line and exit 1 when APNs or FCM is unreachable', async () => {
    const closed = `https://127.0.0.1:${await unusedPort()}`;
    const unreachable = join(tempDir('send-test-closed'), 'herald.yaml');
    writeFileSync(
      unreachable,
      `apps:\n  com.example.ios: ${JSON.stringify(harness.tokenApp(apns, { endpoint: closed }))}\n${fcm.appYaml('com.example.android').replace(fcm.url, closed)}\n`,
    );
    for (const [appId, pushkey] of [['com.example.ios', device('send-test-closed').pushkey], ['com.example.android', 'fcm-closed']] as const) {
      const result = await runHerald(['send-test', '--config', unreachable, '--app-id', appId, '--pushkey', pushkey]);
      assert.equal(result.code, 1, `${appId}: ${result.stdout}${result.stderr}`);
      assert.match(result.stdout, /^result: {2}retry \(.+\)$/m, result.stdout);
      assert.match(result.stdout, /^meaning: No answer from the platform/m, result.stdout);
    }
  });

  it("explains FCM's SENDER_ID_MISMATCH, and sends event_id_only when asked", async () => {
    fcm.script('fcm-mismatch', [FCM.senderIdMismatch()]);
    const mismatch = await runHerald(['send-test', '--config', configFile, '--app-id', 'com.example.android', '--pushkey', 'fcm-mismatch']);
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stdout, /^result: {2}misconfigured \(.*SENDER_ID_MISMATCH.*\)$/m);
    assert.match(mismatch.stdout, /^meaning: .*another Firebase project/m);

    const ok = await runHerald(['send-test', '--config', configFile, '--app-id', 'com.example.android', '--pushkey', 'fcm-ok', '--format', 'event_id_only']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const sent = fcm.sends.find((send) => send.registrationToken === 'fcm-ok');
    assert.ok(sent);
    assert.equal((sent.message.data as Record<string, string>).type, undefined, 'event_id_only carries no event type');
    assert.match(String((sent.message.data as Record<string, string>).event_id), /^\$herald-test-/);
  });
});
