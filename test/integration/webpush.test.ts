import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Metrics } from '../../src/metrics/metrics';
import { readWebPushConfig } from '../../src/pushkins/webpush/config';
import { roomTopic } from '../../src/pushkins/webpush/payload';
import { WebPushPushkin } from '../../src/pushkins/webpush/pushkin';
import { newVapidKeyPair } from '../../src/pushkins/webpush/vapid';
import { ConfigProblems, ConfigSection } from '../../src/config/section';
import { systemClock } from '../../src/util/clock';
import { createLogger } from '../../src/util/log';
import { apnsTestPki } from '../upstreams/apns-pki';
import { metric, notifyBody, startGateway, type RunningGateway } from '../helpers/gateway';
import { tempDir } from '../upstreams/temp';
import { assertUpstreamNotifyResponse } from '../helpers/upstream-schema';
import { WebPushMock, type MockSubscription } from '../upstreams/webpush-mock';
import { ConnectProxy } from '../helpers/connect-proxy';

const NOTIFY = '/_matrix/push/v1/notify';
const APP = 'com.example.web';

interface Reply {
  status: number;
  body: { rejected: string[]; devices?: Array<{ pushkey: string; outcome: string; reason?: string }> } & Record<string, unknown>;
  headers: Headers;
}

function device(sub: MockSubscription, data: Record<string, unknown> = {}): Record<string, unknown> {
  return { app_id: APP, pushkey: sub.p256dh, data: { endpoint: sub.endpoint, auth: sub.auth, ...data }, tweaks: {} };
}

async function post(gw: RunningGateway, body: unknown): Promise<Reply> {
  const response = await fetch(gw.url + NOTIFY, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await response.json()) as Reply['body'];
  if (response.status === 200) assertUpstreamNotifyResponse(json);
  return { status: response.status, body: json, headers: response.headers };
}

function notify(gw: RunningGateway, dev: Record<string, unknown>, notification: Record<string, unknown> = {}): Promise<Reply> {
  return post(gw, notifyBody(notification, dev));
}

describe('Web Push pushkin (against a mock push service that decrypts what it gets)', function () {
  this.timeout(30_000);
  const pki = apnsTestPki();
  const vapid = newVapidKeyPair();
  const vapidFile = join(tempDir('webpush'), 'vapid.pem');
  writeFileSync(vapidFile, vapid.pem);
  let mock: WebPushMock;
  let gw: RunningGateway | undefined;

  before(async () => {
    mock = await WebPushMock.start({ key: pki.serverKey, cert: pki.serverCert });
  });
  after(async () => {
    await mock.close();
  });
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
    assert.deepEqual(mock.problems.splice(0), [], 'every message the mock got was decryptable and properly signed');
  });

  function appYaml(extra: Record<string, unknown> = {}): string {
    const settings = {
      type: 'webpush',
      vapid_private_key: vapidFile,
      vapid_contact_email: 'ops@example.org',
      ca_file: pki.caFile,
      allow_private_endpoints: true,
      ...extra,
    };
    return `apps:\n  ${APP}: ${JSON.stringify(settings)}\n`;
  }

  async function start(extra: Record<string, unknown> = {}, prefix = ''): Promise<RunningGateway> {
    gw = await startGateway(prefix + appYaml(extra));
    return gw;
  }

  describe('messages', () => {
    it('delivers an event: the decrypted payload follows Sygnal, VAPID verifies, TTL and Urgency are set', async () => {
      const g = await start();
      const sub = mock.subscribe();
      const reply = await notify(g, device(sub, { default_payload: { session: 'abc', room_id: 'overridden' } }), {
        room_alias: '#lunch:example.org',
        user_is_target: false,
        content: { msgtype: 'm.text', body: 'Hello there', formatted_body: '<b>Hello there</b>' },
      });
      assert.deepEqual([reply.status, reply.body], [200, { rejected: [] }]);
      const [push] = mock.receivedBy(sub);
      assert.ok(push);
      assert.deepEqual(push.payload, {
        session: 'abc',
        room_id: '!room:example.org',
        room_name: 'Lunch',
        room_alias: '#lunch:example.org',
        event_id: '$event1:example.org',
        sender: '@alice:example.org',
        sender_display_name: 'Alice',
        type: 'm.room.message',
        unread: 2,
        missed_calls: 1,
        content: { msgtype: 'm.text', body: 'Hello there' },
      });
      assert.equal(push.ttl, '900');
      assert.equal(push.urgency, 'normal');
      assert.equal(push.topic, undefined);
      assert.equal(push.contentEncoding, 'aes128gcm');
      assert.equal(push.httpVersion, '2.0');
      assert.deepEqual([push.vapid.aud, push.vapid.sub, push.vapid.publicKey], [mock.origin, 'mailto:ops@example.org', vapid.publicKey]);
      assert.equal(await metric(g, 'herald_webpush_status_codes_total', { pushkin: APP, code: '201' }), 1);
      assert.equal(await metric(g, 'sygnal_active_webpush_requests', {}), 0);
      assert.equal(await metric(g, 'sygnal_pending_webpush_requests', {}), 0);
      assert.match(await g.metrics.registry.getSingleMetricAsString('sygnal_webpush_request_time'), /^sygnal_webpush_request_time_count 1$/m);
      assert.match(await g.metrics.registry.getSingleMetricAsString('sygnal_webpush_queue_time'), /^sygnal_webpush_queue_time_count 1$/m);
    });

    it('prio low → Urgency: low; ttl from the config; badge-only pushes carry only the counts', async () => {
      const g = await start({ ttl: 60 });
      const sub = mock.subscribe();
      const reply = await post(g, { notification: { id: '', type: null, sender: '', prio: 'low', counts: { unread: 0 }, devices: [device(sub)] } });
      assert.equal(reply.status, 200);
      const [push] = mock.receivedBy(sub);
      assert.deepEqual(push?.payload, { unread: 0 });
      assert.deepEqual([push?.ttl, push?.urgency], ['60', 'low']);
    });

    it('events_only: a push without an event is not sent (200); one with an event is', async () => {
      const g = await start();
      const sub = mock.subscribe();
      const badge = await post(g, { notification: { counts: { unread: 3 }, devices: [device(sub, { events_only: true })] } });
      assert.deepEqual([badge.status, badge.body], [200, { rejected: [] }]);
      assert.equal(mock.attemptsFor(sub), 0);
      const event = await notify(g, device(sub, { events_only: true }));
      assert.equal(event.status, 200);
      assert.equal(mock.receivedBy(sub).length, 1);
    });

    it('only_last_per_room sets a Topic derived from the room id (same room, same topic)', async () => {
      const g = await start();
      const sub = mock.subscribe();
      await notify(g, device(sub, { only_last_per_room: true }), { event_id: '$a:x' });
      await notify(g, device(sub, { only_last_per_room: true }), { event_id: '$b:x' });
      await notify(g, device(sub, { only_last_per_room: true }), { event_id: '$c:x', room_id: '!other:example.org' });
      const topics = mock.receivedBy(sub).map((push) => push.topic);
      assert.deepEqual(topics, [roomTopic('!room:example.org'), roomTopic('!room:example.org'), roomTopic('!other:example.org')]);
      assert.match(topics[0] ?? '', /^[A-Za-z0-9_-]{32}$/);
      assert.notEqual(topics[0], topics[2]);
    });

    it('a long multi-byte body arrives cut to 1000 characters ending in …; a long ciphertext is dropped', async () => {
      const g = await start();
      const sub = mock.subscribe();
      const body = '😀é'.repeat(700);
      const reply = await notify(g, device(sub), { content: { msgtype: 'm.text', body, ciphertext: 'x'.repeat(2001) } });
      assert.equal(reply.status, 200);
      const content = mock.receivedBy(sub)[0]?.payload.content as Record<string, string>;
      assert.equal(Array.from(content.body ?? '').length, 1000);
      assert.ok(content.body?.endsWith('…'));
      assert.equal(content.body, Array.from(body).slice(0, 999).join('') + '…');
      assert.equal(content.ciphertext, undefined);
      assert.ok(!mock.receivedBy(sub)[0]?.plaintext.includes('\uFFFD'), 'no broken characters');
    });

    it('missing or non-string data.endpoint / data.auth, or a pushkey that is no key: rejected, nothing sent', async () => {
      const g = await start();
      const sub = mock.subscribe();
      const cases = [
        { ...device(sub), pushkey: 'pk-no-endpoint', data: { auth: sub.auth } },
        { ...device(sub), pushkey: 'pk-no-auth', data: { endpoint: sub.endpoint } },
        { ...device(sub), pushkey: 'pk-auth-number', data: { endpoint: sub.endpoint, auth: 5 } },
        { ...device(sub), pushkey: 'not-a-p256-key' },
        { ...device(sub), pushkey: 'pk-http', data: { endpoint: sub.endpoint.replace('https:', 'http:'), auth: sub.auth } },
      ];
      const reply = await post(g, notifyBody({ devices: cases }));
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body.rejected, ['pk-no-endpoint', 'pk-no-auth', 'pk-auth-number', 'not-a-p256-key', 'pk-http']);
      assert.equal(mock.attemptsFor(sub), 0);
    });
  });

  describe('outcomes', () => {
    for (const status of [404, 410]) {
      it(`${status}: rejected, and remembered on the next call`, async () => {
        const g = await start();
        const sub = mock.subscribe();
        mock.script(sub, [{ status }]);
        const first = await notify(g, device(sub));
        assert.deepEqual([first.status, first.body.rejected], [200, [sub.p256dh]]);
        const second = await notify(g, device(sub), { event_id: '$next:x' });
        assert.deepEqual(second.body.rejected, [sub.p256dh]);
        assert.equal(mock.attemptsFor(sub), 1, 'not sent again');
      });
    }

    for (const status of [401, 403]) {
      it(`${status} (our VAPID key refused): misconfigured, 502, never rejected, counted`, async () => {
        const g = await start();
        const sub = mock.subscribe();
        mock.script(sub, [], { status, body: '{"reason":"BadJwtToken"}' });
        const reply = await notify(g, device(sub));
        assert.equal(reply.status, 502);
        assert.deepEqual(reply.body.rejected, []);
        assert.equal(reply.body.devices?.[0]?.outcome, 'misconfigured');
        assert.equal(mock.attemptsFor(sub), 1, 'not retried');
        assert.equal(await metric(g, 'herald_configuration_errors_total', { pushkin: APP, reason: `VAPID_${status}` }), 1);
        assert.ok(g.logs.lines.some((l) => l.level === 50 && String(l.body).includes('BadJwtToken')));
      });
    }

    it('413: failed (502), not rejected, not retried', async () => {
      const g = await start();
      const sub = mock.subscribe();
      mock.script(sub, [{ status: 413 }]);
      const reply = await notify(g, device(sub));
      assert.equal(reply.status, 502);
      assert.deepEqual(reply.body.rejected, []);
      assert.equal(reply.body.devices?.[0]?.outcome, 'failed');
      assert.equal(mock.attemptsFor(sub), 1);
    });

    it('429 with Retry-After is retried after that time, then delivered', async () => {
      const g = await start();
      const sub = mock.subscribe();
      mock.script(sub, [{ status: 429, retryAfter: '1' }]);
      const reply = await notify(g, device(sub));
      assert.deepEqual([reply.status, reply.body], [200, { rejected: [] }]);
      const [first, second] = mock.attempts.filter((a) => a.subscription === sub.id);
      assert.ok(first && second);
      assert.ok(second.at - first.at >= 900, `waited ${second.at - first.at} ms`);
      assert.equal(mock.receivedBy(sub).length, 1);
      assert.equal(await metric(g, 'herald_upstream_retries_total', { pushkin: APP }), 1);
    });

    it('5xx is retried until delivered; retries exhausted → 502, pushkey kept', async () => {
      const g = await start();
      const flaky = mock.subscribe();
      const down = mock.subscribe();
      mock.script(flaky, [{ status: 503 }, { status: 500 }]);
      mock.script(down, [], { status: 502 });
      const reply = await post(g, notifyBody({ devices: [device(flaky), device(down)] }));
      assert.equal(reply.status, 502);
      assert.deepEqual(reply.body.rejected, []);
      assert.deepEqual(reply.body.devices?.map((d) => d.outcome), ['delivered', 'retry']);
      assert.equal(mock.receivedBy(flaky).length, 1);
      assert.equal(mock.attemptsFor(down), 4);
    });

    it('a Retry-After longer than Herald waits is passed back to the homeserver', async () => {
      const g = await start();
      const sub = mock.subscribe();
      mock.script(sub, [{ status: 429, retryAfter: '30' }]);
      const reply = await notify(g, device(sub));
      assert.equal(reply.status, 502);
      assert.equal(reply.headers.get('retry-after'), '30');
      assert.equal(mock.attemptsFor(sub), 1);
    });
  });

  describe('where Herald sends', () => {
    it('allowed_endpoints: a host outside it is not sent, not rejected (502), logged and counted; a matching one is sent', async () => {
      const g = await start({ allowed_endpoints: ['*.push.example.com', `127.0.0.1:${new URL(mock.origin).port}`.toUpperCase()] });
      const inside = mock.subscribe();
      const outside = { ...mock.subscribe(), endpoint: 'https://evil.example.net/wpush/v2/x' };
      const reply = await post(g, notifyBody({ devices: [device(inside), device(outside)] }));
      assert.equal(reply.status, 502);
      assert.deepEqual(reply.body.rejected, []);
      assert.deepEqual(reply.body.devices?.map((d) => d.outcome), ['delivered', 'failed']);
      assert.equal(await metric(g, 'herald_webpush_endpoints_refused_total', { pushkin: APP, reason: 'not_allowed' }), 1);
      assert.ok(g.logs.lines.some((l) => l.refusal === 'not_allowed' && l.level === 40));
    });

    it('refuses loopback addresses unless allow_private_endpoints: an IP literal, and a name resolving to one', async () => {
      const g = await start({ allow_private_endpoints: false });
      const literal = mock.subscribe();
      const named = mock.subscribe('localhost');
      const reply = await post(g, notifyBody({ devices: [device(literal), device(named)] }));
      assert.equal(reply.status, 502);
      assert.deepEqual(reply.body.rejected, []);
      assert.deepEqual(reply.body.devices?.map((d) => d.outcome), ['failed', 'failed']);
      assert.equal(mock.attemptsFor(literal) + mock.attemptsFor(named), 0, 'nothing reached the mock');
      assert.equal(await metric(g, 'herald_webpush_endpoints_refused_total', { pushkin: APP, reason: 'private_address' }), 2);
    });

    it('sends the devices of one notification concurrently, as HTTP/2 streams of one connection', async () => {
      const h2 = await WebPushMock.start({ key: pki.serverKey, cert: pki.serverCert });
      try {
        const g = await start({ max_connections: 1 });
        h2.holdUntilConcurrent(10);
        const subs = Array.from({ length: 10 }, () => h2.subscribe());
        const reply = await post(g, notifyBody({ devices: subs.map((sub) => device(sub)) }));
        assert.deepEqual([reply.status, reply.body], [200, { rejected: [] }]);
        assert.equal(h2.maxInFlight, 10, 'ten sends in flight at once');
        assert.equal(h2.connections, 1);
        assert.deepEqual(new Set(h2.received.map((push) => push.httpVersion)), new Set(['2.0']));
        assert.deepEqual(h2.problems, []);
      } finally {
        await h2.close();
      }
    });

    it('serves HTTP/1.1 push services too', async () => {
      const h1 = await WebPushMock.start({ key: pki.serverKey, cert: pki.serverCert }, { http1Only: true });
      try {
        const g = await start({ max_connections: 2 });
        const sub = h1.subscribe();
        const reply = await notify(g, device(sub));
        assert.equal(reply.status, 200);
        assert.equal(h1.receivedBy(sub)[0]?.httpVersion, '1.1');
        assert.deepEqual(h1.problems, []);
      } finally {
        await h1.close();
      }
    });

    it('goes through the configured proxy (the name still checked)', async () => {
      const proxy = await ConnectProxy.start('herald', 'proxy-secret');
      const tunnels = () => proxy.tunnels.map((tunnel) => tunnel.target);
      try {
        const proxyUrl = `http://herald:proxy-secret@127.0.0.1:${proxy.port}`;
        const g = await start({}, `proxy: ${JSON.stringify(proxyUrl)}\n`);
        const sub = mock.subscribe();
        const reply = await notify(g, device(sub));
        assert.equal(reply.status, 200);
        assert.equal(mock.receivedBy(sub)[0]?.httpVersion, '1.1');
        assert.deepEqual(tunnels(), [new URL(mock.origin).host]);
        await gw?.close();
        gw = undefined;

        const strict = await start({ allow_private_endpoints: false }, `proxy: ${JSON.stringify(proxyUrl)}\n`);
        const refused = await notify(strict, device(mock.subscribe('localhost')));
        assert.equal(refused.body.devices?.[0]?.outcome, 'failed');
        assert.equal(tunnels().length, 1, 'no tunnel opened to a loopback name');
      } finally {
        await gw?.close();
        gw = undefined;
        await proxy.close();
      }
    });
  });

  it('a VAPID key that cannot sign is our misconfiguration: the pushkey is kept, nothing sent', async () => {
    const settings = { vapid_private_key: vapidFile, vapid_contact_email: 'ops@example.org', allow_private_endpoints: true };
    const config = readWebPushConfig(new ConfigSection('apps.web', settings, new ConfigProblems(), '/'));
    const metrics = new Metrics();
    const pushkin = new WebPushPushkin(
      { ...config, vapid: { publicKey: config.vapid.publicKey, privateKey: 'not-a-key' } },
      { name: APP, log: createLogger('silent'), metrics, clock: systemClock, proxyFor: () => undefined },
    );
    try {
      const sub = mock.subscribe();
      const notification = { event_id: '$e:x', prio: 'high' as const, counts: {}, devices: [] };
      const dev = { app_id: APP, pushkey: sub.p256dh, data: { endpoint: sub.endpoint, auth: sub.auth }, tweaks: {} };
      const outcome = await pushkin.dispatch(notification, dev, { log: createLogger('silent'), deadline: Date.now() + 5_000, signal: new AbortController().signal });
      assert.equal(outcome.kind, 'misconfigured');
      assert.equal(mock.attemptsFor(sub), 0);
      const counted = (await metrics.registry.getSingleMetric('herald_configuration_errors_total')?.get())?.values.find((v) => v.labels.reason === 'VAPID_SIGNING');
      assert.equal(counted?.value, 1);
    } finally {
      await pushkin.close();
    }
  });

  it('never logs pushkeys, auth secrets, endpoints or the VAPID private key', async () => {
    const g = await start();
    const dead = mock.subscribe();
    const refused = mock.subscribe();
    mock.script(dead, [{ status: 410, body: `gone: ${dead.endpoint}` }]);
    mock.script(refused, [{ status: 403 }]);
    await post(g, notifyBody({ devices: [device(dead), device(refused), device(mock.subscribe())] }));
    const raw = g.logs.raw;
    for (const secret of [dead.p256dh, dead.auth, dead.id, refused.p256dh, refused.id, 'PRIVATE KEY', vapid.pem.split('\n')[1] ?? 'x']) {
      assert.ok(!raw.includes(secret), `${secret} appears in the logs`);
    }
  });
});
