import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { HeraldProcess } from '../helpers/process';
import { RedisServer } from '../upstreams/redis-server';

describe('workers (node:cluster)', function () {
  // Three processes start at once; a busy shared machine makes that slow.
  this.timeout(120_000);
  let redis: RedisServer;
  before(async () => {
    redis = await RedisServer.start();
  });
  after(async () => {
    await redis.stop();
  });

  it('refuses to start several workers with the memory store, naming store.type: redis', async () => {
    const herald = HeraldProcess.withConfig('workers: 2\nhttp: {port: 0}\napps: {com.example.a: {type: noop}}\n');
    assert.equal(await herald.exitCode(), 78);
    assert.match(herald.stderr, /store\.type: memory \(the default\) is seen by one process only.*set store\.type: redis/);
  });

  it('serves from several workers, aggregates their metrics, reloads each, and stops cleanly', async () => {
    const store = `store: {type: redis, url: "${redis.url}"}\n`;
    const herald = HeraldProcess.withConfig(`workers: 2\nhttp: {port: 0}\n${store}metrics: {prometheus: {enabled: true, port: 0}}\napps: {com.example.a: {type: noop}}\n`);
    try {
      const { ready, url } = await herald.listening(50_000);
      assert.equal(ready.workers, 2);
      const send = async (appId: string) => {
        const response = await fetch(`${url}/_matrix/push/v1/notify`, {
          method: 'POST',
          body: JSON.stringify({ notification: { devices: [{ app_id: appId, pushkey: 'k' }] } }),
        });
        return ((await response.json()) as { rejected: string[] }).rejected;
      };
      for (let i = 0; i < 20; i++) assert.deepEqual(await send('com.example.a'), []);

      const metrics = await (await fetch(String(ready.metrics))).text();
      assert.match(metrics, /^sygnal_notifications_received_total 20$/m);

      writeFileSync(herald.configFile as string, `workers: 2\nhttp: {port: 0}\n${store}apps: {com.example.b: {type: noop}}\n`);
      const mark = herald.lines.length;
      herald.signal('SIGHUP');
      const first = await herald.waitFor('configuration reloaded', mark);
      const second = await herald.waitFor('configuration reloaded', herald.lines.indexOf(first) + 1);
      assert.notEqual(first.worker, second.worker, 'each worker reloads');
      for (let i = 0; i < 6; i++) assert.deepEqual(await send('com.example.a'), ['k']);
    } finally {
      assert.equal(await herald.stop(), 0);
    }
  });
});
