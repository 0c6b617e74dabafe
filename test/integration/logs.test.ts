import assert from 'node:assert/strict';
import { startGateway, type RunningGateway } from '../helpers/gateway';
import { ScriptedPlatform } from '../helpers/scripted-pushkin';

const APPS = 'apps: {com.example.app: {type: scripted}, "*.glob.*": {type: scripted}, "org.other.?": {type: scripted}}';

async function notify(gw: RunningGateway, devices: Array<{ app_id: string; pushkey: string }>, headers: Record<string, string> = {}): Promise<number> {
  const response = await fetch(`${gw.url}/_matrix/push/v1/notify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ notification: { event_id: `$${Math.random()}`, devices } }),
  });
  await response.arrayBuffer();
  return response.status;
}

describe('logs', () => {
  let gw: RunningGateway;
  afterEach(() => gw.close());

  it('write one access line per request, with a request id shared by the lines about it', async () => {
    gw = await startGateway(APPS, { pushkinTypes: new ScriptedPlatform().types() });
    await notify(gw, [{ app_id: 'com.unknown', pushkey: 'pk-1' }]);
    const access = gw.logs.lines.filter((line) => line.msg === 'request');
    assert.equal(access.length, 1);
    const [line] = access;
    assert.equal(line?.method, 'POST');
    assert.equal(line?.path, '/_matrix/push/v1/notify');
    assert.equal(line?.status, 200);
    assert.equal(typeof line?.duration_ms, 'number');
    assert.equal(line?.client, '127.0.0.1');
    const warning = gw.logs.lines.find((l) => String(l.msg).startsWith('rejecting pushkey'));
    assert.equal(warning?.request_id, line?.request_id);
    assert.equal(warning?.app_id, 'com.unknown');
    assert.ok(String(warning?.event_id).startsWith('$'));
  });

  it('write health probes at debug, other requests at info', async () => {
    gw = await startGateway(APPS, { pushkinTypes: new ScriptedPlatform().types() });
    const health = await fetch(`${gw.url}/health`);
    assert.equal(health.status, 200);
    await health.arrayBuffer();
    await notify(gw, []);
    const access = gw.logs.lines.filter((line) => line.msg === 'request');
    assert.deepEqual(
      access.map((line) => [line.path, line.level]),
      [
        ['/health', 20],
        ['/_matrix/push/v1/notify', 30],
      ],
    );
  });

  it('take the client address from X-Forwarded-For only from a trusted proxy, as the address that proxy saw', async () => {
    // log.access.x_forwarded_for: a proxy on this host. The first entry is whatever the client wrote.
    gw = await startGateway(`log: {access: {x_forwarded_for: true}}\n${APPS}`, { pushkinTypes: new ScriptedPlatform().types() });
    await notify(gw, [], { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' });
    assert.equal(gw.logs.lines.find((line) => line.msg === 'request')?.client, '10.0.0.1');
    await gw.close();
    gw = await startGateway(APPS, { pushkinTypes: new ScriptedPlatform().types() });
    await notify(gw, [], { 'x-forwarded-for': '203.0.113.7' });
    assert.equal(gw.logs.lines.find((line) => line.msg === 'request')?.client, '127.0.0.1');
  });

  it("write no access line with Sygnal's log.access.enabled: false, and still the lines about devices", async () => {
    gw = await startGateway(`log: {access: {enabled: false}}\n${APPS}`, { pushkinTypes: new ScriptedPlatform().types() });
    assert.equal(await notify(gw, [{ app_id: 'com.unknown', pushkey: 'pk-1' }]), 200);
    const health = await fetch(`${gw.url}/health`);
    await health.arrayBuffer();
    const missing = await fetch(`${gw.url}/nowhere`);
    await missing.arrayBuffer();
    assert.equal(missing.status, 404);
    assert.deepEqual(gw.logs.lines.filter((line) => line.msg === 'request'), []);
    assert.ok(gw.logs.lines.some((line) => String(line.msg).startsWith('rejecting pushkey')));
  });

  it('never contain a pushkey, whatever happens to it', async () => {
    gw = await startGateway(APPS, { pushkinTypes: new ScriptedPlatform().types() });
    const pushkeys = ['delivered-SECRETKEY1', 'reject-SECRETKEY2', 'retry-SECRETKEY3', 'misconfig-SECRETKEY4', 'throw-SECRETKEY5', 'fail-SECRETKEY6'];
    await notify(gw, pushkeys.map((pushkey) => ({ app_id: 'com.example.app', pushkey })));
    await notify(gw, [{ app_id: 'com.unknown', pushkey: 'SECRETKEY7' }, { app_id: 'a.glob.two', pushkey: 'SECRETKEY8' }]);
    await notify(gw, [{ app_id: 'com.example.app', pushkey: 'reject-SECRETKEY2' }]);
    assert.ok(gw.logs.lines.length >= 6, 'traffic was logged at debug');
    assert.doesNotMatch(gw.logs.raw, /SECRETKEY/);
    assert.ok(gw.logs.lines.some((line) => typeof line.pushkey_hash === 'string'));
  });
});
