import assert from 'node:assert/strict';
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
});
