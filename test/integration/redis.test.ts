import assert from 'node:assert/strict';
import { APP, ApnsHarness, device } from '../helpers/apns-harness';
import type { ApnsMock } from '../upstreams/apns-mock';
import { notifyBody } from '../helpers/gateway';
import { HeraldProcess } from '../helpers/process';
import { RedisServer } from '../upstreams/redis-server';

/**
 * Herald's promises across processes: two instances (the built CLI) on their own ports,
 * or one with two workers, sharing one real redis-server, in front of a mock APNs that
 * counts what reaches the platform.
 */
describe('shared store in Redis (several instances, several workers)', function () {
  this.timeout(120_000);
  let redis: RedisServer;
  let h: ApnsHarness;
  let mock: ApnsMock;
  const processes: HeraldProcess[] = [];

  before(async () => {
    redis = await RedisServer.start({ password: 'instance-secret' });
  });
  after(async () => {
    await redis.stop();
  });
  beforeEach(async () => {
    h = new ApnsHarness();
    mock = await h.mock();
  });
  afterEach(async () => {
    for (const herald of processes.splice(0)) assert.equal(await herald.stop(), 0, herald.stderr);
    await h.close();
  });

  /** Starts Herald with the Redis store (and `extra` top-level settings); resolves once ready. */
  async function start(extra: Record<string, unknown> = {}): Promise<{ herald: HeraldProcess; url: string; metrics: string }> {
    const config = {
      http: { port: 0 },
      log: { level: 'debug' },
      metrics: { prometheus: { enabled: true, port: 0 } },
      // A generous bound: on a busy machine Redis may take longer than 200 ms, and the
      // fall-back (send anyway) would then show up as a second upstream send.
      store: { type: 'redis', url: redis.url, key_prefix: 'it:', timeout_ms: 5_000 },
      apps: { [APP]: h.tokenApp(mock) },
      ...extra,
    };
    const herald = HeraldProcess.withConfig(JSON.stringify(config)); // JSON is YAML
    processes.push(herald);
    // Generous: several processes start at once on a busy machine.
    const { url, metrics } = await herald.listening(50_000);
    return { herald, url, metrics };
  }

  async function notify(url: string, eventId: string, pushkey: string): Promise<{ status: number; rejected: string[] }> {
    const response = await fetch(`${url}/_matrix/push/v1/notify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(notifyBody({ event_id: eventId }, { app_id: APP, pushkey })),
    });
    const body = (await response.json()) as { rejected: string[] };
    return { status: response.status, rejected: body.rejected };
  }

  it('de-duplicates a retry that lands on the other instance, and shares rejections', async () => {
    const [a, b] = [await start(), await start()];
    const alive = device('two-instances');
    assert.deepEqual(await notify(a.url, '$retried:example.org', alive.pushkey), { status: 200, rejected: [] });
    assert.deepEqual(await notify(b.url, '$retried:example.org', alive.pushkey), { status: 200, rejected: [] });
    assert.equal(mock.requestsFor(alive.hex).length, 1, 'one notification on the phone');

    const dead = device('dead-on-one-instance');
    mock.script(dead.hex, { status: 410, reason: 'Unregistered' });
    assert.deepEqual(await notify(a.url, '$first:example.org', dead.pushkey), { status: 200, rejected: [dead.pushkey] });
    assert.deepEqual(await notify(b.url, '$second:example.org', dead.pushkey), { status: 200, rejected: [dead.pushkey] });
    assert.equal(mock.requestsFor(dead.hex).length, 1, 'the other instance answered from the shared memory');
    assert.doesNotMatch(JSON.stringify([...a.herald.lines, ...b.herald.lines]), /instance-secret/, 'the Redis password is never logged');
  });

  it('sends once when a retry reaches the other instance while the first send is in flight', async () => {
    const [a, b] = [await start(), await start()];
    const phone = device('concurrent');
    const answer = mock.hold(phone.hex);
    const first = notify(a.url, '$concurrent:example.org', phone.pushkey);
    await mock.waitForRequests(phone.hex, 1);
    const mark = b.herald.lines.length;
    const retry = notify(b.url, '$concurrent:example.org', phone.pushkey);
    await b.herald.waitFor('event being sent to this device by another process; waiting for its outcome', mark);
    answer();
    assert.deepEqual(await first, { status: 200, rejected: [] });
    assert.deepEqual(await retry, { status: 200, rejected: [] });
    assert.equal(mock.requestsFor(phone.hex).length, 1, 'exactly one upstream send');
  });

  it('keeps both promises with workers: 2', async () => {
    const { url, metrics } = await start({ workers: 2 });
    const phone = device('workers');
    const dead = device('workers-dead');
    mock.script(dead.hex, { status: 410, reason: 'Unregistered' });
    // New connections each time: the workers take turns accepting them.
    for (let i = 0; i < 10; i++) {
      assert.deepEqual(await notify(url, '$workers:example.org', phone.pushkey), { status: 200, rejected: [] });
      assert.deepEqual(await notify(url, `$dead${i}:example.org`, dead.pushkey), { status: 200, rejected: [dead.pushkey] });
    }
    assert.equal(mock.requestsFor(phone.hex).length, 1, 'a retry on either worker is de-duplicated');
    assert.equal(mock.requestsFor(dead.hex).length, 1, 'a rejection found by one worker is returned by the other');
    const text = await (await fetch(metrics)).text();
    assert.match(text, /^herald_store_errors_total\{operation="claim_delivery"\} 0$/m);
  });

  it('reaches Redis over TLS (rediss://) with a password', async () => {
    const tlsRedis = await RedisServer.start({ password: 'tls-secret', tls: { key: h.pki.serverKey, cert: h.pki.serverCert } });
    try {
      const config = {
        http: { port: 0 },
        metrics: { prometheus: { enabled: true, port: 0 } },
        store: { type: 'redis', url: tlsRedis.url, timeout_ms: 5_000 },
        apps: { [APP]: h.tokenApp(mock) },
      };
      // The test CA signed the server's certificate; Node trusts it through this variable.
      const herald = HeraldProcess.withConfig(JSON.stringify(config), { NODE_EXTRA_CA_CERTS: h.pki.caFile });
      processes.push(herald);
      const { url, metrics } = await herald.listening(50_000);
      assert.match(await (await fetch(`${url}/health`)).text(), HEALTHY);
      const phone = device('over-tls');
      assert.deepEqual(await notify(url, '$tls:example.org', phone.pushkey), { status: 200, rejected: [] });
      assert.deepEqual(await notify(url, '$tls:example.org', phone.pushkey), { status: 200, rejected: [] });
      assert.equal(mock.requestsFor(phone.hex).length, 1, 'de-duplicated through the TLS connection');
      assert.match(await (await fetch(metrics)).text(), /^herald_store_errors_total\{operation="connection"\} 0$/m);
    } finally {
      for (const herald of processes.splice(0)) assert.equal(await herald.stop(), 0, herald.stderr);
      await tlsRedis.stop();
    }
  });

  it('delivers while Redis is down, counts it, says so on /health, and recovers when Redis is back', async () => {
    const { herald, url, metrics } = await start();
    assert.match(await (await fetch(`${url}/health`)).text(), HEALTHY);
    await redis.stop();
    try {
      const phone = device('redis-down');
      assert.deepEqual(await notify(url, '$down:example.org', phone.pushkey), { status: 200, rejected: [] });
      assert.equal(mock.requestsFor(phone.hex).length, 1, 'delivered without the store');
      const health = await fetch(`${url}/health`);
      assert.equal(health.status, 200, 'still alive');
      assert.match(await health.text(), /^OK, herald \S+; store degraded: redis unreachable/);
      const text = await (await fetch(metrics)).text();
      assert.match(text, /^herald_store_errors_total\{operation="claim_delivery"\} [1-9]/m);
      await herald.waitFor('store unavailable; going on without it (a retried notification may be shown twice)');
    } finally {
      await redis.start();
    }
    await herald.waitFor('store reachable again');
    assert.match(await (await fetch(`${url}/health`)).text(), HEALTHY);
    const phone = device('redis-back');
    assert.deepEqual(await notify(url, '$back:example.org', phone.pushkey), { status: 200, rejected: [] });
    assert.deepEqual(await notify(url, '$back:example.org', phone.pushkey), { status: 200, rejected: [] });
    assert.equal(mock.requestsFor(phone.hex).length, 1, 'de-duplicating again');
  });
});

/** /health's body with a healthy store: "OK, herald <version>", nothing more. */
const HEALTHY = /^OK, herald [^;]+$/;
