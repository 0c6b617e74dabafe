import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { CAN_SEE_SIGNAL_HANDLERS, HeraldProcess } from '../helpers/process';
import { RedisServer } from '../upstreams/redis-server';

async function rejected(url: string, appId: string): Promise<string[]> {
  const response = await fetch(`${url}/_matrix/push/v1/notify`, {
    method: 'POST',
    body: JSON.stringify({ notification: { devices: [{ app_id: appId, pushkey: 'k' }] } }),
  });
  return ((await response.json()) as { rejected: string[] }).rejected;
}

/**
 * Signals from the first moment of the process: the handlers go in before the modules
 * load, so these signals arrive while Herald is still starting.
 */
describe('signals during start-up', function () {
  this.timeout(180_000);
  let herald: HeraldProcess | undefined;
  before(function () {
    if (!CAN_SEE_SIGNAL_HANDLERS) this.skip();
  });
  afterEach(async () => {
    await herald?.stop();
    herald = undefined;
  });

  function start(yaml: string): { herald: HeraldProcess; file: string } {
    herald = HeraldProcess.withConfig(yaml);
    return { herald, file: herald.configFile as string };
  }

  it('SIGTERM before ready: a clean exit 0', async () => {
    const { herald } = start('http: {port: 0}\napps: {com.example.a: {type: noop}}\n');
    await herald.signalHandlersInstalled();
    herald.signal('SIGTERM');
    assert.equal(await herald.exitCode(), 0, herald.stderr);
    assert.ok(!herald.lines.some((line) => line.msg === 'herald is ready'), 'stopped before serving');
    assert.equal(herald.stderr, '');
  });

  it('SIGHUP before ready: deferred, then the file is reloaded once ready', async () => {
    const { herald, file } = start('http: {port: 0}\napps: {com.example.a: {type: noop}}\n');
    await herald.signalHandlersInstalled();
    writeFileSync(file, 'http: {port: 0}\napps: {com.example.b: {type: noop}}\n');
    herald.signal('SIGHUP');
    const url = await herald.url();
    const ready = herald.lines.findIndex((line) => line.msg === 'herald is ready');
    await herald.waitFor('configuration reloaded', ready + 1);
    assert.deepEqual(await rejected(url, 'com.example.b'), []);
    assert.deepEqual(await rejected(url, 'com.example.a'), ['k']);
  });

  it('workers: SIGHUP during start-up kills nothing; each worker reloads once ready', async () => {
    // Several workers share their store through Redis.
    const redis = await RedisServer.start();
    try {
      const { herald } = start(`workers: 2\nstore: {type: redis, url: '${redis.url}'}\nhttp: {port: 0}\napps: {com.example.a: {type: noop}}\n`);
      await herald.signalHandlersInstalled();
      herald.signal('SIGHUP');
      const url = await herald.url();
      const first = await herald.waitFor('configuration reloaded');
      const second = await herald.waitFor('configuration reloaded', herald.lines.indexOf(first) + 1);
      assert.notEqual(first.worker, second.worker, 'each worker reloads');
      assert.deepEqual(await rejected(url, 'com.example.a'), []);
      assert.ok(!herald.lines.some((line) => line.msg === 'worker died'), JSON.stringify(herald.lines));
      assert.equal(await herald.stop(), 0);
    } finally {
      await redis.stop();
    }
  });
});
