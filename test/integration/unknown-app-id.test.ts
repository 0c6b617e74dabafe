import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Gateway } from '../../src/app';
import { loadConfigText } from '../../src/config/config';
import { Metrics } from '../../src/metrics/metrics';
import { BUILTIN_PUSHKIN_TYPES } from '../../src/pushkins/registry';
import { createLogger } from '../../src/util/log';
import { CapturedLogs, startGateway, type RunningGateway } from '../helpers/gateway';
import { runHeraldSync } from '../helpers/process';
import { tempDir } from '../upstreams/temp';

const APPS = `
apps:
  com.example.noop: {type: noop}
  "org.ambiguous.*": {type: noop}
`;

/**
 * A gateway whose apps include two overlapping globs. The configuration refuses them, so
 * this configuration is put together past its validation: it shows what the router does
 * should an app_id ever match several apps.
 */
async function startWithOverlappingGlobs(policy: 'reject' | 'retry'): Promise<RunningGateway> {
  const { config } = loadConfigText(`http: {port: 0}\nunknown_app_id: ${policy}\n${APPS}`, process.cwd(), BUILTIN_PUSHKIN_TYPES);
  const glob = config.apps.find((app) => app.name === 'org.ambiguous.*')!;
  const logs = new CapturedLogs();
  const metrics = new Metrics();
  const gateway = await Gateway.create({ ...config, apps: [...config.apps, { ...glob, name: 'org.*.two' }] }, { log: createLogger('debug', logs.stream()), metrics });
  const [address] = (await gateway.listen()) as [AddressInfo];
  return { gateway, url: `http://127.0.0.1:${address.port}`, logs, metrics, close: () => gateway.close(1_000) };
}

interface Answer {
  status: number;
  body: { rejected: string[]; devices?: Array<{ pushkey: string; outcome: string; reason?: string }> };
}

async function notify(gw: RunningGateway, devices: Array<{ app_id: string; pushkey: string }>): Promise<Answer> {
  const response = await fetch(`${gw.url}/_matrix/push/v1/notify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ notification: { event_id: `$e${Math.random()}`, devices } }),
  });
  return { status: response.status, body: (await response.json()) as Answer['body'] };
}

async function unroutable(gw: RunningGateway): Promise<Record<string, number>> {
  const { values } = await gw.metrics.unroutable.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.reason), v.value]));
}

/**
 * `unknown_app_id`: Sygnal rejects a device whose app_id no app serves (the homeserver
 * then deletes the pusher); `retry` answers 502 instead, so a config mistake deletes
 * nobody's pusher. Either way the device is logged and counted.
 */
describe('unknown_app_id', () => {
  let gw: RunningGateway;
  afterEach(() => gw.close());

  const devices = [
    { app_id: 'com.example.noop', pushkey: 'pk-known' },
    { app_id: 'com.unknown.app', pushkey: 'pk-unknown' },
    { app_id: 'org.ambiguous.two', pushkey: 'pk-ambiguous' },
  ];

  it('rejects by default, as Sygnal does', async () => {
    gw = await startGateway(APPS);
    const answer = await notify(gw, devices.slice(0, 2));
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body.rejected, ['pk-unknown']);
    assert.deepEqual(await unroutable(gw), { unknown: 1, ambiguous: 0 });
  });

  it('retry: answers 502 without rejecting, logs an error and counts each device', async () => {
    gw = await startGateway(`unknown_app_id: retry\n${APPS}`);
    const answer = await notify(gw, devices.slice(0, 2));
    assert.equal(answer.status, 502);
    assert.deepEqual(answer.body.rejected, []);
    const outcomes = Object.fromEntries((answer.body.devices ?? []).map((d) => [d.pushkey, d.outcome]));
    assert.deepEqual(outcomes, { 'pk-known': 'delivered', 'pk-unknown': 'misconfigured' });
    assert.deepEqual(await unroutable(gw), { unknown: 1, ambiguous: 0 });
    const errors = gw.logs.lines.filter((line) => line.level === 50).map((line) => `${String(line.app_id)}: ${String(line.msg)}`);
    assert.deepEqual(errors, [
      'com.unknown.app: app_id matches no configured app: answering 502 so the homeserver keeps the pusher and retries (unknown_app_id: retry); fix apps',
    ]);
  });

  for (const policy of ['reject', 'retry'] as const) {
    it(`an app_id that several globs match is answered 502, never rejected (unknown_app_id: ${policy})`, async () => {
      gw = await startWithOverlappingGlobs(policy);
      const answer = await notify(gw, [devices[0]!, devices[2]!]);
      assert.equal(answer.status, 502);
      assert.deepEqual(answer.body.rejected, []);
      const outcomes = Object.fromEntries((answer.body.devices ?? []).map((d) => [d.pushkey, d.outcome]));
      assert.deepEqual(outcomes, { 'pk-known': 'delivered', 'pk-ambiguous': 'misconfigured' });
      assert.deepEqual(await unroutable(gw), { unknown: 0, ambiguous: 1 });
      const errors = gw.logs.lines.filter((line) => line.level === 50).map((line) => `${String(line.app_id)}: ${String(line.msg)}`);
      assert.deepEqual(errors, [
        'org.ambiguous.two: app_id matches several apps: org.ambiguous.*, org.*.two: answering 502 so the homeserver keeps the pusher and retries; fix apps',
      ]);
    });
  }

  it('changes on reload', async () => {
    gw = await startGateway(APPS);
    const http = 'http: {port: 0}\n';
    await gw.gateway.reload(loadConfigText(`${http}unknown_app_id: retry\n${APPS}`, process.cwd(), BUILTIN_PUSHKIN_TYPES).config);
    assert.equal((await notify(gw, [devices[1]!])).status, 502);
    await gw.gateway.reload(loadConfigText(`${http}${APPS}`, process.cwd(), BUILTIN_PUSHKIN_TYPES).config);
    assert.deepEqual((await notify(gw, [devices[1]!])).body.rejected, ['pk-unknown']);
  });
});

describe('unknown_app_id in herald send-test', function () {
  this.timeout(60_000);

  it('is what send-test says the gateway would do', () => {
    const file = join(tempDir('unknown-app-id'), 'herald.yaml');
    for (const [policy, result, meaning] of [
      ['reject', 'rejected (app_id com.unknown.app matches no configured app)', 'the gateway would reject this pushkey'],
      ['retry', 'misconfigured (app_id com.unknown.app matches no configured app; unknown_app_id: retry)', 'the gateway would answer 502 and keep this pushkey'],
    ] as const) {
      writeFileSync(file, `unknown_app_id: ${policy}\n${APPS}`);
      const run = runHeraldSync(['send-test', '--config', file, '--app-id', 'com.unknown.app', '--pushkey', 'k']);
      assert.equal(run.code, 1);
      assert.ok(run.stdout.includes(`result:  ${result}\n`), run.stdout + run.stderr);
      assert.ok(run.stdout.includes(`meaning: ${meaning}`), run.stdout + run.stderr);
    }
  });
});
