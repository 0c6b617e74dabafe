import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import type { Socket } from 'node:net';
import { notifyBody, startGateway } from '../helpers/gateway';
import { ScriptedPlatform } from '../helpers/scripted-pushkin';

describe('graceful shutdown', () => {
  it('finishes a request in flight, then refuses new connections', async () => {
    const platform = new ScriptedPlatform();
    const gw = await startGateway('apps: {com.example.app: {type: scripted}}', { pushkinTypes: platform.types() });
    const inFlight = fetch(`${gw.url}/_matrix/push/v1/notify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(notifyBody({}, { pushkey: 'slow-500-shutdown' })),
    });
    while (platform.inFlight === 0) await new Promise((resolve) => setTimeout(resolve, 10));

    const closed = gw.gateway.close(5_000);
    const response = await inFlight;
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { rejected: [] });
    await closed;
    await assert.rejects(fetch(`${gw.url}/health`));
  });

  it('answers requests still waiting on a platform with 502 before the grace period ends', async () => {
    const platform = new ScriptedPlatform();
    const gw = await startGateway('apps: {com.example.app: {type: scripted}}', { pushkinTypes: platform.types() });
    const inFlight = fetch(`${gw.url}/_matrix/push/v1/notify`, {
      method: 'POST',
      body: JSON.stringify(notifyBody({}, { pushkey: 'slow-10000-stuck' })),
    });
    while (platform.inFlight === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    const closed = gw.gateway.close(500);
    const response = await inFlight;
    assert.equal(response.status, 502);
    const body = (await response.json()) as { devices: Array<{ outcome: string; reason: string }> };
    assert.deepEqual(body.devices.map((d) => [d.outcome, d.reason]), [['retry', 'Herald is shutting down']]);
    await closed;
    const exceeded = await gw.metrics.registry.getSingleMetricAsString('herald_upstream_deadline_exceeded_total');
    assert.match(exceeded, /pushkin="com.example.app"\} 0/, 'a shutdown is not a deadline');
  });

  it('answers in-flight requests with Connection: close and ends an unused keep-alive connection without a reset', async () => {
    const platform = new ScriptedPlatform();
    const gw = await startGateway('apps: {com.example.app: {type: scripted}}', { pushkinTypes: platform.types() });
    const agent = new Agent({ keepAlive: true, maxSockets: 2 });
    const post = (pushkey: string) =>
      new Promise<{ status: number; connection: string; socket: Socket }>((resolve, reject) => {
        const req = request(`${gw.url}/_matrix/push/v1/notify`, { method: 'POST', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: String(res.headers.connection), socket: req.socket as Socket }));
        });
        req.on('error', reject);
        req.end(JSON.stringify(notifyBody({}, { pushkey })));
      });
    try {
      const before = await post('delivered-before');
      assert.equal(before.connection, 'keep-alive');
      const idle = before.socket;
      const idleEnded = new Promise<string>((resolve) => {
        idle.once('error', (err) => resolve(`error ${err.message}`));
        idle.once('close', () => resolve('closed'));
      });
      const inFlight = post('slow-300-shutdown');
      while (platform.inFlight === 0) await new Promise((resolve) => setTimeout(resolve, 10));

      // A grace period longer than the test's timeout: closing must not wait for it to cut the idle connection.
      const closed = gw.gateway.close(60_000);
      const answer = await inFlight;
      assert.equal(answer.status, 200);
      assert.equal(answer.connection, 'close', 'an answer after shutdown began tells the client not to reuse the connection');
      assert.equal(await idleEnded, 'closed', 'the unused connection is ended, not reset');
      await closed;
    } finally {
      agent.destroy();
    }
  });
});
