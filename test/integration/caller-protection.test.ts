import assert from 'node:assert/strict';
import { systemClock, type Clock } from '../../src/util/clock';
import { metric, startGateway, type RunningGateway } from '../helpers/gateway';

const NOTIFY = '/_matrix/push/v1/notify';
const APPS = 'apps:\n  com.example.noop:\n    type: noop\n';

/** Time that moves only when the test says so: rate limits without waiting or flakiness. */
class ManualClock implements Clock {
  ms = 1_700_000_000_000;
  now(): number {
    return this.ms;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.sleep(ms, signal);
  }
}

function body(pushkey = 'pk-1'): string {
  return JSON.stringify({ notification: { event_id: `$${Math.random()}`, type: 'm.room.message', devices: [{ app_id: 'com.example.noop', pushkey }] } });
}

async function post(gw: RunningGateway, text: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(gw.url + NOTIFY, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: text });
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, headers: response.headers };
}

describe('caller protection: http.allowed_callers, http.rate_limit and http.trusted_proxies', function () {
  this.timeout(30_000);
  let gw: RunningGateway | undefined;
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
  });

  it('is off by default: any caller, any rate', async () => {
    gw = await startGateway(APPS);
    for (let i = 0; i < 60; i++) assert.equal((await post(gw, body())).status, 200);
  });

  describe('allowed_callers', () => {
    it('refuses a caller outside the list with 403 M_FORBIDDEN before reading the body, and counts it', async () => {
      gw = await startGateway(APPS, { http: { allowed_callers: ['10.0.0.0/8', '2001:db8::/32'] } });
      const reply = await post(gw, 'not even JSON');
      assert.equal(reply.status, 403);
      assert.equal(reply.body.errcode, 'M_FORBIDDEN');
      assert.match(String(reply.body.error), /127\.0\.0\.1/);
      assert.equal(await metric(gw, 'herald_callers_refused_total', { reason: 'not_allowed' }), 1);
      // /health stays open to load balancers.
      assert.equal((await fetch(gw.url + '/health')).status, 200);
    });

    it('serves a caller inside the list', async () => {
      gw = await startGateway(APPS, { http: { allowed_callers: ['10.0.0.0/8', '127.0.0.1'] } });
      assert.equal((await post(gw, body())).status, 200);
    });

    it('ignores the X-Forwarded-For of a peer that is not a trusted proxy', async () => {
      gw = await startGateway(APPS, { http: { allowed_callers: ['10.0.0.0/8'] } });
      assert.equal((await post(gw, body(), { 'x-forwarded-for': '10.1.2.3' })).status, 403);
      await gw.close();
      gw = await startGateway(APPS, { http: { allowed_callers: ['10.0.0.0/8'], trusted_proxies: ['192.0.2.1'] } });
      const reply = await post(gw, body(), { 'x-forwarded-for': '10.1.2.3' });
      assert.equal(reply.status, 403);
      assert.match(String(reply.body.error), /from 127\.0\.0\.1$/);
    });

    it('behind a trusted proxy, takes the address that proxy saw: a spoofed first entry does not get past the list', async () => {
      gw = await startGateway(APPS, { http: { allowed_callers: ['10.0.0.0/8'], trusted_proxies: ['127.0.0.1'] } });
      assert.equal((await post(gw, body(), { 'x-forwarded-for': '10.1.2.3' })).status, 200);
      const spoofed = await post(gw, body(), { 'x-forwarded-for': '10.1.2.3, 192.0.2.66' });
      assert.equal(spoofed.status, 403);
      assert.match(String(spoofed.body.error), /from 192\.0\.2\.66$/);
      assert.equal((await post(gw, body(), { 'x-forwarded-for': '192.0.2.66, 10.1.2.3' })).status, 200);
    });

    it("takes Sygnal's log.access.x_forwarded_for as a proxy on this host", async () => {
      gw = await startGateway(`log: {access: {x_forwarded_for: true}}\n${APPS}`, { http: { allowed_callers: ['10.0.0.0/8'] } });
      assert.equal((await post(gw, body(), { 'x-forwarded-for': '10.1.2.3' })).status, 200);
      assert.equal((await post(gw, body(), { 'x-forwarded-for': '10.1.2.3, 192.0.2.66' })).status, 403);
    });
  });

  describe('rate_limit', () => {
    it('per pushkey: past the burst, 429 M_LIMIT_EXCEEDED with retry_after_ms and Retry-After; other pushkeys unaffected; refilled in time', async () => {
      const clock = new ManualClock();
      gw = await startGateway(APPS, { clock, http: { rate_limit: { per_pushkey: { per_second: 1, burst: 2 } } } });
      assert.equal((await post(gw, body('busy'))).status, 200);
      assert.equal((await post(gw, body('busy'))).status, 200);
      const limited = await post(gw, body('busy'));
      assert.equal(limited.status, 429);
      assert.equal(limited.body.errcode, 'M_LIMIT_EXCEEDED');
      assert.equal(limited.body.retry_after_ms, 1_000);
      assert.equal(limited.headers.get('retry-after'), '1');
      assert.equal(await metric(gw, 'herald_callers_refused_total', { reason: 'pushkey_rate' }), 1);
      assert.equal((await post(gw, body('quiet'))).status, 200);
      clock.ms += 1_000;
      assert.equal((await post(gw, body('busy'))).status, 200);
    });

    it('per caller: past the burst, 429 before the body is read', async () => {
      const clock = new ManualClock();
      gw = await startGateway(APPS, { clock, http: { rate_limit: { per_caller: { per_second: 2, burst: 2 } } } });
      assert.equal((await post(gw, body('a'))).status, 200);
      assert.equal((await post(gw, 'not JSON')).status, 400);
      const limited = await post(gw, 'not JSON');
      assert.equal(limited.status, 429);
      assert.equal(limited.body.retry_after_ms, 500);
      assert.equal(await metric(gw, 'herald_callers_refused_total', { reason: 'caller_rate' }), 1);
    });

    it('per caller behind a trusted proxy: a new spoofed first entry on each request is still the same caller', async () => {
      const clock = new ManualClock();
      gw = await startGateway(APPS, { clock, http: { trusted_proxies: ['127.0.0.1'], rate_limit: { per_caller: { per_second: 1, burst: 2 } } } });
      assert.equal((await post(gw, body('a'), { 'x-forwarded-for': '198.51.100.1, 10.1.2.3' })).status, 200);
      assert.equal((await post(gw, body('b'), { 'x-forwarded-for': '198.51.100.2, 10.1.2.3' })).status, 200);
      const limited = await post(gw, body('c'), { 'x-forwarded-for': '198.51.100.3, 10.1.2.3' });
      assert.equal(limited.status, 429);
      assert.match(String(limited.body.error), /from 10\.1\.2\.3$/);
      // Another caller behind the same proxy has its own bucket.
      assert.equal((await post(gw, body('d'), { 'x-forwarded-for': '10.4.5.6' })).status, 200);
    });

    it("the defaults never limit a homeserver's retries, nor a busy room's burst to one device", async () => {
      const clock = new ManualClock();
      gw = await startGateway(APPS, { clock, http: { rate_limit: {} } });
      // Synapse retries one push from 1 s, doubling.
      for (const backoffS of [1, 2, 4, 8, 16, 32]) {
        assert.equal((await post(gw, body('retried'))).status, 200);
        clock.ms += backoffS * 1_000;
      }
      // 50 messages in a room within the same instant.
      for (let i = 0; i < 50; i++) assert.equal((await post(gw, body('busy-room'))).status, 200);
    });
  });
});
