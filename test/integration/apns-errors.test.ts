import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { MockAnswer } from '../upstreams/apns-mock';
import { APP, ApnsHarness, device, fastClock, notify, type Reply } from '../helpers/apns-harness';
import { metric } from '../helpers/gateway';

describe('APNs pushkin: errors, retries and connections (against a mock APNs)', function () {
  this.timeout(30_000);
  let h: ApnsHarness;
  beforeEach(() => {
    h = new ApnsHarness();
  });
  afterEach(() => h.close());

  it('keeps pushkeys when APNs calls every device BadDeviceToken (wrong platform): 4 rejected, then misconfiguration', async () => {
    const mock = await h.mock();
    const gw = await h.gateway(h.tokenApp(mock));
    const devices = Array.from({ length: 6 }, (_, i) => device(`wrong-env-${i}`));
    for (const d of devices) mock.script(d.hex, { status: 400, reason: 'BadDeviceToken' });
    const replies = [];
    for (const d of devices) replies.push(await notify(gw, {}, { pushkey: d.pushkey }));
    assert.deepEqual(replies.map((r) => r.status), [200, 200, 200, 200, 502, 502]);
    assert.deepEqual(replies.slice(4).map((r) => r.body.rejected), [[], []]);
    assert.match(replies[4]?.body.devices?.[0]?.reason ?? '', /BadDeviceToken for every recent device: check platform and topic/);
    assert.ok(gw.logs.lines.some((l) => l.level === 50 && /platform \(sandbox\/production\) or topic is probably wrong/.test(String(l.msg))));
    assert.equal(await metric(gw, 'herald_configuration_errors_total', { pushkin: APP, reason: 'BadDeviceToken for every device' }), 2);

    // A delivery shows the configuration works: dead tokens are rejected again.
    assert.equal((await notify(gw, {}, { pushkey: device('wrong-env-ok').pushkey })).status, 200);
    const dead = device('wrong-env-dead');
    mock.script(dead.hex, { status: 400, reason: 'BadDeviceToken' });
    assert.deepEqual((await notify(gw, {}, { pushkey: dead.pushkey })).body.rejected, [dead.pushkey]);
  });

  describe('classifying APNs answers', () => {
    // `code`: the status counted in sygnal_apns_status_codes_total (0: no answer, as node-apn
    // reports an empty-bodied answer); `configReason`: the herald_configuration_errors reason.
    const cases: Array<{ answers: MockAnswer[]; outcome: string; http: number; code?: string; configReason?: string }> = [
      { answers: [{ status: 400, reason: 'BadDeviceToken' }], outcome: 'rejected', http: 200 },
      { answers: [{ status: 400, reason: 'DeviceTokenNotForTopic' }], outcome: 'rejected', http: 200 },
      { answers: [{ status: 410, reason: 'Unregistered' }], outcome: 'rejected', http: 200 },
      { answers: [{ status: 410, reason: 'ExpiredToken' }], outcome: 'rejected', http: 200 },
      { answers: [{ status: 403, reason: 'BadCertificate' }], outcome: 'misconfigured', http: 502 },
      { answers: [{ status: 403, reason: 'BadCertificateEnvironment' }], outcome: 'misconfigured', http: 502 },
      { answers: [{ status: 403, reason: 'InvalidProviderToken' }], outcome: 'misconfigured', http: 502 },
      { answers: [{ status: 403, reason: 'MissingProviderToken' }], outcome: 'misconfigured', http: 502 },
      // node-apn makes a fresh token on this answer, so it is tried once more. It reports
      // the answer without its reason, so the status names it.
      {
        answers: [{ status: 403, reason: 'ExpiredProviderToken' }, { status: 403, reason: 'ExpiredProviderToken' }],
        outcome: 'misconfigured',
        http: 502,
        configReason: '403',
      },
      { answers: [{ status: 403, reason: 'Forbidden' }], outcome: 'misconfigured', http: 502 },
      // node-apn reports an empty-bodied answer without its status: retried like no answer, never a rejection.
      { answers: Array<MockAnswer>(4).fill({ status: 403, emptyBody: true }), outcome: 'retry', http: 502, code: '0' },
      { answers: [{ status: 400, reason: 'TopicDisallowed' }], outcome: 'misconfigured', http: 502 },
      { answers: [{ status: 400, reason: 'BadTopic' }], outcome: 'misconfigured', http: 502 },
      { answers: [{ status: 400, reason: 'MissingTopic' }], outcome: 'misconfigured', http: 502 },
      { answers: [{ status: 413, reason: 'PayloadTooLarge' }], outcome: 'failed', http: 502 },
      { answers: [{ status: 400, reason: 'SomethingApple/AddsLater' }], outcome: 'failed', http: 502 },
      { answers: [{ status: 410, reason: 'SomethingApple/AddsLater' }], outcome: 'failed', http: 502 },
      ...(['TooManyRequests', 'InternalServerError'] as const).map((reason) => ({
        answers: Array<MockAnswer>(4).fill({ status: reason === 'TooManyRequests' ? 429 : 500, reason }),
        outcome: 'retry',
        http: 502,
      })),
      { answers: Array<MockAnswer>(4).fill({ status: 500, emptyBody: true }), outcome: 'retry', http: 502, code: '0' },
      { answers: Array<MockAnswer>(4).fill({ status: 503, reason: 'ServiceUnavailable' }), outcome: 'retry', http: 502 },
      { answers: Array<MockAnswer>(4).fill({ status: 503, reason: 'Shutdown' }), outcome: 'retry', http: 502 },
    ];

    for (const { answers, outcome, http, code, configReason } of cases) {
      const first = answers[0] as Exclude<MockAnswer, 'hang'>;
      const label = `${first.status} ${first.reason ?? '(empty body)'}`;
      it(`${label} → ${outcome} (${http})`, async () => {
        const mock = await h.mock();
        const { clock } = fastClock();
        const gw = await h.gateway(h.tokenApp(mock), { clock });
        const { pushkey, hex } = device(`case ${label}`);
        mock.script(hex, ...answers);
        const reply = await notify(gw, {}, { pushkey });
        assert.equal(reply.status, http);
        assert.deepEqual(reply.body.rejected, outcome === 'rejected' ? [pushkey] : []);
        if (http === 502) assert.equal(reply.body.devices?.[0]?.outcome, outcome);
        assert.equal(mock.requestsFor(hex).length, answers.length, 'every scripted answer was used, and no more');
        assert.equal(await metric(gw, 'sygnal_apns_status_codes_total', { pushkin: APP, code: code ?? String(first.status) }), answers.length);
        if (outcome === 'misconfigured') {
          assert.equal(await metric(gw, 'herald_configuration_errors_total', { pushkin: APP, reason: configReason ?? first.reason ?? '403' }), 1);
          assert.ok(gw.logs.lines.some((line) => line.level === 50 && line.status === first.status && String(line.msg).includes('configuration')));
        }
      });
    }

    it('ExpiredProviderToken (a bare 403 from node-apn): retried once, with the token node-apn renewed, and delivered', async () => {
      const mock = await h.mock();
      const gw = await h.gateway(h.tokenApp(mock));
      const { pushkey, hex } = device('expired-provider-token');
      mock.script(hex, { status: 403, reason: 'ExpiredProviderToken' });
      assert.equal((await notify(gw, {}, { pushkey })).status, 200);
      const [first, second] = mock.requestsFor(hex);
      assert.ok(first && second);
      assert.notEqual(second.headers.authorization, first.headers.authorization, 'a new provider token');
      assert.equal(await metric(gw, 'herald_configuration_errors_total', { pushkin: APP, reason: '403' }), 0);
    });

    it('remembers a dead token and rejects it on the next call without asking Apple', async () => {
      const mock = await h.mock();
      const gw = await h.gateway(h.tokenApp(mock));
      const { pushkey, hex } = device('remembered');
      mock.script(hex, { status: 410, reason: 'Unregistered' });
      assert.deepEqual((await notify(gw, {}, { pushkey })).body, { rejected: [pushkey] });
      assert.deepEqual((await notify(gw, {}, { pushkey })).body, { rejected: [pushkey] });
      assert.equal(mock.requestsFor(hex).length, 1);
    });
  });

  describe('retries and deadlines', () => {
    it('retries a temporary failure, then delivers', async () => {
      const mock = await h.mock();
      const gw = await h.gateway(h.tokenApp(mock));
      const { pushkey, hex } = device('retry-then-ok');
      mock.script(hex, { status: 500, reason: 'InternalServerError' });
      const reply = await notify(gw, {}, { pushkey });
      assert.equal(reply.status, 200);
      assert.equal(mock.requestsFor(hex).length, 2);
      assert.equal(await metric(gw, 'herald_upstream_retries_total', { pushkin: APP }), 1);
    });

    it('answers 502 once the attempts run out', async () => {
      const mock = await h.mock();
      const { clock, sleeps } = fastClock();
      const gw = await h.gateway(h.tokenApp(mock), { clock });
      const { pushkey, hex } = device('exhausted');
      mock.script(hex, ...Array<MockAnswer>(10).fill({ status: 503, reason: 'ServiceUnavailable' }));
      const reply = await notify(gw, {}, { pushkey });
      assert.equal(reply.status, 502);
      assert.equal(reply.body.devices?.[0]?.outcome, 'retry');
      assert.equal(mock.requestsFor(hex).length, 4);
      assert.equal(sleeps.length, 3);
      // Exponential backoff with jitter: each wait lies in [ceiling/2, ceiling].
      sleeps.forEach((ms, i) => assert.ok(ms >= 100 * 2 ** i && ms <= 200 * 2 ** i, `wait ${i} was ${ms} ms`));
    });

    it("backs off by its own policy whatever Retry-After says (node-apn does not report it)", async () => {
      const mock = await h.mock();
      const { clock, sleeps } = fastClock();
      const gw = await h.gateway(h.tokenApp(mock), { clock });
      const { pushkey, hex } = device('retry-after');
      mock.script(hex, { status: 503, reason: 'ServiceUnavailable', retryAfter: '30' });
      assert.equal((await notify(gw, {}, { pushkey })).status, 200);
      assert.equal(sleeps.length, 1);
      assert.ok((sleeps[0] ?? 0) >= 100 && (sleeps[0] ?? 0) <= 200, `waited ${sleeps[0]} ms: the first backoff, not 30 s`);
      assert.equal(mock.requestsFor(hex).length, 2);
    });

    it('answers within the notify deadline when APNs does not answer', async () => {
      const mock = await h.mock();
      const gw = await h.gateway(h.tokenApp(mock, { request_timeout_ms: 20_000 }), { http: { notify_deadline_ms: 500 } });
      const { pushkey, hex } = device('deadline');
      mock.script(hex, 'hang');
      const reply = await notify(gw, {}, { pushkey });
      assert.equal(reply.status, 502);
      assert.equal(reply.body.devices?.[0]?.outcome, 'retry');
      assert.match(String(reply.body.devices?.[0]?.reason), /500 ms notify deadline/);
      assert.equal(await metric(gw, 'herald_upstream_deadline_exceeded_total', { pushkin: APP }), 1);
    });

    it('retries connection errors, counted as status 0', async () => {
      // A port nothing listens on: take one, then free it.
      const closedPort = await new Promise<number>((resolve) => {
        const server = createServer().listen(0, '127.0.0.1', () => {
          const { port } = server.address() as { port: number };
          server.close(() => resolve(port));
        });
      });
      const { clock } = fastClock();
      const mock = await h.mock();
      const gw = await h.gateway(h.tokenApp(mock, { endpoint: `https://127.0.0.1:${closedPort}` }), { clock });
      const reply = await notify(gw, {}, { pushkey: device('refused').pushkey });
      assert.equal(reply.status, 502);
      assert.equal(reply.body.devices?.[0]?.outcome, 'retry');
      assert.equal(await metric(gw, 'sygnal_apns_status_codes_total', { pushkin: APP, code: '0' }), 4);
    });
  });

  describe('connections', () => {
    it('replaces a connection that stopped answering, and delivers on the new one', async () => {
      const mock = await h.mock();
      const { clock } = fastClock();
      // Long enough for a healthy request on a busy machine; each dead one costs this much.
      const gw = await h.gateway(h.tokenApp(mock, { request_timeout_ms: 1_000 }), { clock });
      assert.equal((await notify(gw, {}, { pushkey: device('before').pushkey })).status, 200);
      assert.equal(mock.sessionsOpened, 1);

      mock.stallOpenConnections();
      const { pushkey, hex } = device('healed');
      const reply = await notify(gw, {}, { pushkey });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      const sessions = mock.requestsFor(hex).map((request) => request.session);
      assert.deepEqual(sessions, [1, 1, 2], 'two timeouts on the dead connection, then success on a new one');
      assert.ok(gw.logs.messages().some((msg) => msg.includes('replacing it')));

      const after = device('after');
      assert.equal((await notify(gw, {}, { pushkey: after.pushkey })).status, 200);
      assert.equal(mock.requestsFor(after.hex)[0]?.session, 2);
    });

    it('past inflight_request_limit, queues devices until a slot frees, first come first served', async () => {
      const mock = await h.mock();
      const gw = await h.gateway(h.tokenApp(mock, { inflight_request_limit: 1 }));
      const slow = device('slow');
      const queued = [device('queued-1'), device('queued-2')];
      const release = mock.hold(slow.hex);

      const slowReply = notify(gw, {}, { pushkey: slow.pushkey });
      await mock.waitForRequests(slow.hex, 1);
      const queuedReplies: Array<Promise<Reply>> = [];
      for (const [i, waiting] of queued.entries()) {
        queuedReplies.push(notify(gw, {}, { pushkey: waiting.pushkey }));
        while ((await metric(gw, 'herald_inflight_queued_devices', { pushkin: APP })) < i + 1) await delay(5);
      }
      assert.equal(queued.flatMap((waiting) => mock.requestsFor(waiting.hex)).length, 0, 'nothing sent past the limit');

      release();
      for (const reply of [slowReply, ...queuedReplies]) assert.equal((await reply).status, 200);
      const order = mock.requests.map((request) => request.token);
      assert.deepEqual(order.slice(-3), [slow.hex, ...queued.map((waiting) => waiting.hex)]);
      assert.equal(await metric(gw, 'sygnal_inflight_request_limit_drop_total', { pushkin: APP }), 0);
      assert.equal(await metric(gw, 'herald_inflight_queued_devices', { pushkin: APP }), 0);
    });

    it('answers 502 at once when inflight_queue_limit devices are already waiting', async () => {
      const mock = await h.mock();
      const gw = await h.gateway(h.tokenApp(mock, { inflight_request_limit: 1, inflight_queue_limit: 0 }));
      const slow = device('slow');
      const other = device('turned-away');
      const release = mock.hold(slow.hex);

      const slowReply = notify(gw, {}, { pushkey: slow.pushkey });
      await mock.waitForRequests(slow.hex, 1);
      const turnedAway = await notify(gw, {}, { pushkey: other.pushkey });
      assert.equal(turnedAway.status, 502);
      assert.equal(turnedAway.body.devices?.[0]?.outcome, 'retry');
      assert.match(String(turnedAway.body.devices?.[0]?.reason), /inflight_request_limit/);
      assert.equal(await metric(gw, 'sygnal_inflight_request_limit_drop_total', { pushkin: APP }), 1);
      assert.equal(mock.requestsFor(other.hex).length, 0);

      release();
      assert.equal((await slowReply).status, 200);
    });

    it('answers 502 for a device still waiting for a slot at the deadline', async () => {
      const mock = await h.mock();
      const gw = await h.gateway(h.tokenApp(mock, { inflight_request_limit: 1 }), { http: { notify_deadline_ms: 500 } });
      const slow = device('slow');
      const late = device('late');
      const release = mock.hold(slow.hex);

      const slowReply = notify(gw, {}, { pushkey: slow.pushkey });
      await mock.waitForRequests(slow.hex, 1);
      const lateReply = await notify(gw, {}, { pushkey: late.pushkey });
      assert.equal(lateReply.status, 502);
      assert.equal(lateReply.body.devices?.[0]?.outcome, 'retry');
      assert.equal(await metric(gw, 'sygnal_inflight_request_limit_drop_total', { pushkin: APP }), 1);
      assert.equal(await metric(gw, 'herald_inflight_queued_devices', { pushkin: APP }), 0);
      assert.equal(mock.requestsFor(late.hex).length, 0, 'never sent: it gave up its place');

      release();
      assert.equal((await slowReply).status, 502, 'the slow device itself outlived the deadline');
      const after = device('after');
      assert.equal((await notify(gw, {}, { pushkey: after.pushkey })).status, 200, 'the slot is free again');
    });

    it('delivers a notification with more devices than the limit', async () => {
      const mock = await h.mock();
      const gw = await h.gateway(h.tokenApp(mock, { inflight_request_limit: 3 }));
      const devices = Array.from({ length: 20 }, (_, i) => ({ app_id: APP, pushkey: device(`many-${i}`).pushkey }));
      const reply = await notify(gw, { devices });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.equal(mock.requests.length, 20);
      assert.equal(await metric(gw, 'sygnal_inflight_request_limit_drop_total', { pushkin: APP }), 0);
    });

    it('delivers a badge-only push to 600 devices with the default limit', async () => {
      const mock = await h.mock();
      const gw = await h.gateway(h.tokenApp(mock));
      const devices = Array.from({ length: 600 }, (_, i) => ({ app_id: APP, pushkey: device(`badge-${i}`).pushkey }));
      const body = { notification: { id: '', type: null, sender: '', counts: { unread: 3 }, devices } };
      const response = await fetch(`${gw.url}/_matrix/push/v1/notify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.equal(response.status, 200, await response.text());
      assert.equal(mock.requests.length, 600);
      assert.equal(await metric(gw, 'sygnal_inflight_request_limit_drop_total', { pushkin: APP }), 0);
    });

    it('spreads requests over max_connections sessions', async () => {
      const mock = await h.mock();
      const gw = await h.gateway(h.tokenApp(mock, { max_connections: 2 }));
      for (const label of ['multi-1', 'multi-2', 'multi-3']) assert.equal((await notify(gw, {}, { pushkey: device(label).pushkey })).status, 200);
      assert.equal(mock.sessionsOpened, 2);
    });
  });
});
