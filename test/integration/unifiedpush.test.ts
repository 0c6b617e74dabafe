import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApnsHarness, device as apnsDevice, fastClock } from '../helpers/apns-harness';
import { FcmMock } from '../upstreams/fcm-mock';
import { apnsTestPki } from '../upstreams/apns-pki';
import { DistributorMock } from '../helpers/distributor-mock';
import { metric, notifyBody, startGateway, type RunningGateway, type StartOptions } from '../helpers/gateway';
import { assertUpstreamNotifyResponse } from '../helpers/upstream-schema';

const NOTIFY = '/_matrix/push/v1/notify';
const APP = 'org.example.chat.up';
const SAMPLES = join(__dirname, '..', 'fixtures', 'homeserver-samples');

interface Reply {
  status: number;
  body: { rejected: string[]; devices?: Array<{ pushkey: string; outcome: string; reason?: string }> } & Record<string, unknown>;
  headers: Headers;
}

async function post(gw: RunningGateway, body: unknown): Promise<Reply> {
  const response = await fetch(gw.url + NOTIFY, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const json = (await response.json()) as Reply['body'];
  if (response.status === 200) assertUpstreamNotifyResponse(json);
  return { status: response.status, body: json, headers: response.headers };
}

function notify(gw: RunningGateway, pushkey: string, notification: Record<string, unknown> = {}, device: Record<string, unknown> = {}): Promise<Reply> {
  return post(gw, notifyBody(notification, { app_id: APP, pushkey, data: {}, ...device }));
}

/** The body common-proxies posts: the homeserver's notification with `devices` removed. */
function commonProxiesBody(notification: Record<string, unknown>): Record<string, unknown> {
  const { devices: _devices, ...rest } = notification;
  return { notification: rest };
}

function outcomeOf(reply: Reply, pushkey: string): string | undefined {
  if (reply.status === 200) return reply.body.rejected.includes(pushkey) ? 'rejected' : 'delivered';
  return reply.body.devices?.find((d) => d.pushkey === pushkey)?.outcome;
}

describe('UnifiedPush pushkin (against a distributor that answers as ntfy does)', function () {
  this.timeout(30_000);
  const pki = apnsTestPki();
  let distributor: DistributorMock;
  let gw: RunningGateway | undefined;

  before(async () => {
    distributor = await DistributorMock.start({ maxMessageBytes: 4096 });
  });
  after(async () => {
    await distributor.close();
  });
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
  });

  /** A gateway whose app may reach the mock on 127.0.0.1 over http, as an operator allows a private distributor. */
  async function start(extra: Record<string, unknown> = {}, options: StartOptions = {}, apps: Record<string, unknown> = {}): Promise<RunningGateway> {
    const settings = { type: 'unifiedpush', allow_private_endpoints: true, allowed_endpoints: [distributor.host], ...extra };
    gw = await startGateway(`apps: ${JSON.stringify({ [APP]: settings, ...apps })}\n`, { clock: fastClock().clock, ...options });
    return gw;
  }

  describe('forwarding', () => {
    it('POSTs the notification as common-proxies does: devices removed, JSON, TTL, Content-Encoding', async () => {
      const g = await start();
      const { topic, endpoint } = distributor.subscribe();
      const body = notifyBody({}, { app_id: APP, pushkey: endpoint, data: { url: 'https://herald.example.org/_matrix/push/v1/notify' } });
      const reply = await post(g, body);
      assert.deepEqual([reply.status, reply.body], [200, { rejected: [] }]);
      const [message] = distributor.deliveredTo(topic);
      assert.ok(message);
      assert.deepEqual(JSON.parse(message.body), commonProxiesBody(body.notification));
      assert.equal(message.headers['content-type'], 'application/json');
      assert.equal(message.headers.ttl, '86400');
      assert.equal(message.headers['content-encoding'], 'aes128gcm');
      assert.equal(await metric(g, 'herald_unifiedpush_status_codes_total', { pushkin: APP, code: '200' }), 1);
      assert.equal(await metric(g, 'herald_device_outcomes_total', { pushkin: APP, outcome: 'delivered' }), 1);
      assert.equal(await metric(g, 'herald_active_unifiedpush_requests'), 0);
      assert.match(await g.metrics.registry.getSingleMetricAsString('herald_unifiedpush_request_time_seconds'), /^herald_unifiedpush_request_time_seconds_count 1$/m);
      assert.match(await g.metrics.registry.getSingleMetricAsString('herald_unifiedpush_queue_time_seconds'), /^herald_unifiedpush_queue_time_seconds_count 1$/m);
    });

    for (const sample of ['synapse-notify-full.json', 'synapse-notify-event-id-only.json', 'synapse-notify-badge-only.json', 'synapse-notify-invite.json']) {
      it(`forwards a recorded homeserver request intact (${sample})`, async () => {
        const g = await start();
        const { topic, endpoint } = distributor.subscribe();
        const recorded = JSON.parse(readFileSync(join(SAMPLES, sample), 'utf8')) as { body_raw: string };
        const request = JSON.parse(recorded.body_raw) as { notification: { devices: Array<Record<string, unknown>> } & Record<string, unknown> };
        // The recorded pusher, pointed at this distributor.
        for (const device of request.notification.devices) Object.assign(device, { app_id: APP, pushkey: endpoint });
        const reply = await post(g, JSON.stringify(request));
        assert.deepEqual([reply.status, reply.body], [200, { rejected: [] }]);
        const [message] = distributor.deliveredTo(topic);
        assert.ok(message, 'the distributor got the notification');
        assert.deepEqual(JSON.parse(message.body), commonProxiesBody(request.notification));
      });
    }

    it('event_id_only: only event_id, room_id, counts and prio are forwarded', async () => {
      const g = await start();
      const { topic, endpoint } = distributor.subscribe();
      await notify(g, endpoint, {}, { data: { format: 'event_id_only' } });
      const [message] = distributor.deliveredTo(topic);
      assert.ok(message);
      assert.deepEqual(JSON.parse(message.body), {
        notification: { event_id: '$event1:example.org', room_id: '!room:example.org', counts: { unread: 2, missed_calls: 1 }, prio: 'high' },
      });
    });

    it('stays under max_body_bytes by dropping content, never by cutting JSON', async () => {
      const g = await start({ max_body_bytes: 512 });
      const { topic, endpoint } = distributor.subscribe();
      const reply = await notify(g, endpoint, { content: { msgtype: 'm.text', body: 'x'.repeat(2000) } });
      assert.equal(reply.status, 200);
      const [message] = distributor.deliveredTo(topic);
      assert.ok(message);
      const forwarded = JSON.parse(message.body) as { notification: Record<string, unknown> };
      assert.equal(forwarded.notification.content, undefined);
      assert.equal(forwarded.notification.sender, '@alice:example.org');
      assert.ok(Buffer.byteLength(message.body) <= 512);
    });

    it('sends each device of a notification concurrently, one POST per endpoint', async () => {
      const g = await start();
      const subs = [distributor.subscribe(), distributor.subscribe(), distributor.subscribe()];
      const body = notifyBody({}, {});
      body.notification.devices = subs.map((sub) => ({ app_id: APP, pushkey: sub.endpoint, data: {} }));
      const reply = await post(g, body);
      assert.deepEqual([reply.status, reply.body], [200, { rejected: [] }]);
      for (const sub of subs) assert.equal(distributor.deliveredTo(sub.topic).length, 1);
    });
  });

  describe('outcomes', () => {
    it('404 (unknown topic), 410 and 401–403: the pushkey is rejected', async () => {
      const g = await start();
      const unknown = distributor.unknownEndpoint();
      const scripted = [410, 401, 402, 403].map((status) => {
        const sub = distributor.subscribe();
        distributor.script(sub.topic, { status });
        return sub.endpoint;
      });
      const body = notifyBody({}, {});
      body.notification.devices = [unknown, ...scripted].map((pushkey) => ({ app_id: APP, pushkey, data: {} }));
      const reply = await post(g, body);
      assert.equal(reply.status, 200);
      assert.deepEqual([...reply.body.rejected].sort(), [unknown, ...scripted].sort());
    });

    it('429 with Retry-After is retried inside the deadline', async () => {
      const g = await start();
      const { topic, endpoint } = distributor.subscribe();
      distributor.script(topic, { status: 429, retryAfter: '0' });
      const reply = await notify(g, endpoint);
      assert.deepEqual([reply.status, reply.body], [200, { rejected: [] }]);
      assert.equal(distributor.attemptsFor(topic), 2);
      assert.equal(distributor.deliveredTo(topic).length, 1);
    });

    it('5xx until the retries run out: 502, and the host is remembered as unavailable for a while', async () => {
      const g = await start();
      const { topic, endpoint } = distributor.subscribe();
      distributor.script(topic, ...Array.from({ length: 4 }, () => ({ status: 503 })));
      const reply = await notify(g, endpoint);
      assert.equal(reply.status, 502);
      assert.equal(outcomeOf(reply, endpoint), 'retry');
      assert.equal(distributor.attemptsFor(topic), 4);
      assert.equal(await metric(g, 'herald_unifiedpush_status_codes_total', { pushkin: APP, code: '503' }), 4);

      // Another endpoint on the same host: answered from memory, no connection attempt.
      const other = distributor.subscribe();
      const remembered = await notify(g, other.endpoint);
      assert.equal(remembered.status, 502);
      assert.equal(outcomeOf(remembered, other.endpoint), 'retry');
      assert.match(remembered.body.devices?.[0]?.reason ?? '', /remembered/);
      assert.ok(Number(remembered.headers.get('retry-after')) > 0, 'the homeserver is told when to come back');
      assert.equal(distributor.attemptsFor(other.topic), 0);
    });

    it('a distributor that does not answer in time is retried, then 502', async () => {
      const g = await start({ request_timeout_ms: 200, remember_unavailable_ms: 0 });
      const { topic, endpoint } = distributor.subscribe();
      distributor.script(topic, ...Array.from({ length: 4 }, () => ({ status: 0, hang: true })));
      const reply = await notify(g, endpoint);
      assert.equal(reply.status, 502);
      assert.equal(outcomeOf(reply, endpoint), 'retry');
      assert.equal(distributor.attemptsFor(topic), 4);
      assert.equal(await metric(g, 'herald_unifiedpush_status_codes_total', { pushkin: APP, code: '0' }), 4);
    });

    it('413 fails this message (502) and keeps the pushkey', async () => {
      const small = await DistributorMock.start({ maxMessageBytes: 100 });
      try {
        const g = await start({ allowed_endpoints: [small.host] });
        const { topic, endpoint } = small.subscribe();
        const reply = await notify(g, endpoint);
        assert.equal(reply.status, 502);
        assert.equal(outcomeOf(reply, endpoint), 'failed');
        assert.equal(small.attemptsFor(topic), 1, 'not retried');
        assert.deepEqual(reply.body.rejected, []);
      } finally {
        await gw?.close();
        gw = undefined;
        await small.close();
      }
    });

    it('does not follow redirects', async () => {
      const g = await start();
      const from = distributor.subscribe();
      const to = distributor.subscribe();
      distributor.script(from.topic, { status: 307, location: to.endpoint });
      const reply = await notify(g, from.endpoint);
      assert.equal(reply.status, 502);
      assert.equal(outcomeOf(reply, from.endpoint), 'failed');
      assert.equal(distributor.attemptsFor(to.topic), 0);
    });
  });

  describe('where Herald sends', () => {
    it('rejects without sending a pushkey that can never work', async () => {
      const g = await start();
      const { topic, endpoint } = distributor.subscribe();
      const withCredentials = new URL(endpoint);
      withCredentials.username = 'user';
      const pushkeys = [
        'not a url',
        `ftp://${distributor.host}/${topic}`,
        withCredentials.href,
        // Under 512 characters (the schema's bound) but over the spec's 512 bytes.
        `${endpoint}&pad=${'é'.repeat(250)}`,
        // http only for hosts in allowed_endpoints
        'http://ntfy.example.org/upAbc?up=1',
      ];
      const body = notifyBody({}, {});
      body.notification.devices = pushkeys.map((pushkey) => ({ app_id: APP, pushkey, data: {} }));
      const reply = await post(g, body);
      assert.equal(reply.status, 200);
      assert.deepEqual([...reply.body.rejected].sort(), [...pushkeys].sort());
      assert.equal(distributor.attemptsFor(topic), 0);
    });

    it('refuses loopback addresses unless allow_private_endpoints: an IP literal, and a name resolving to one (rejected)', async () => {
      const port = new URL(distributor.origin).port;
      const g = await start({ allow_private_endpoints: false, allowed_endpoints: [distributor.host, `localhost:${port}`] });
      const literal = distributor.subscribe();
      const named = distributor.subscribe('localhost');
      const body = notifyBody({}, {});
      body.notification.devices = [literal, named].map((sub) => ({ app_id: APP, pushkey: sub.endpoint, data: {} }));
      const reply = await post(g, body);
      assert.equal(reply.status, 200);
      assert.deepEqual([...reply.body.rejected].sort(), [literal.endpoint, named.endpoint].sort());
      assert.equal(distributor.attemptsFor(literal.topic) + distributor.attemptsFor(named.topic), 0, 'nothing reached the distributor');
      assert.equal(await metric(g, 'herald_unifiedpush_endpoints_refused_total', { pushkin: APP, reason: 'private_address' }), 2);
    });

    it('a host outside allowed_endpoints is not sent to, and the pushkey is kept (502)', async () => {
      const g = await start({ allowed_endpoints: ['ntfy.example.org'] });
      const { topic, endpoint } = distributor.subscribe();
      const reply = await notify(g, endpoint);
      // http is allowed only for allowed hosts: over https the same host is refused by policy.
      const https = endpoint.replace(/^http:/, 'https:');
      const policy = await notify(g, https);
      assert.equal(outcomeOf(reply, endpoint), 'rejected');
      assert.equal(policy.status, 502);
      assert.equal(outcomeOf(policy, https), 'failed');
      assert.equal(distributor.attemptsFor(topic), 0);
      assert.equal(await metric(g, 'herald_unifiedpush_endpoints_refused_total', { pushkin: APP, reason: 'not_allowed' }), 1);
    });

    it('rejects a host that does not exist (NXDOMAIN) or fails TLS, and remembers it', async () => {
      const tls = await DistributorMock.start({ tls: { key: pki.serverKey, cert: pki.serverCert } });
      try {
        // No ca_file: the test CA is unknown, so the TLS handshake fails.
        const g = await start({ allowed_endpoints: undefined });
        const nxdomain = 'https://ntfy.herald-test.invalid/upAbc?up=1';
        const first = tls.subscribe();
        const reply = await post(g, {
          notification: { ...notifyBody().notification, devices: [nxdomain, first.endpoint].map((pushkey) => ({ app_id: APP, pushkey, data: {} })) },
        });
        assert.equal(reply.status, 200);
        assert.deepEqual([...reply.body.rejected].sort(), [nxdomain, first.endpoint].sort());
        assert.equal(await metric(g, 'herald_unifiedpush_endpoints_refused_total', { pushkin: APP, reason: 'unreachable' }), 2);
        const connections = tls.connections;

        const second = tls.subscribe();
        const again = await notify(g, second.endpoint);
        assert.deepEqual(again.body.rejected, [second.endpoint]);
        assert.equal(tls.connections, connections, 'the refused host is remembered: no new connection');
      } finally {
        await gw?.close();
        gw = undefined;
        await tls.close();
      }
    });

    it('delivers over https with ca_file', async () => {
      const tls = await DistributorMock.start({ tls: { key: pki.serverKey, cert: pki.serverCert } });
      try {
        const g = await start({ allowed_endpoints: undefined, ca_file: pki.caFile });
        const { topic, endpoint } = tls.subscribe();
        const reply = await notify(g, endpoint);
        assert.deepEqual([reply.status, reply.body], [200, { rejected: [] }]);
        assert.equal(tls.deliveredTo(topic).length, 1);
      } finally {
        await gw?.close();
        gw = undefined;
        await tls.close();
      }
    });

    it('never logs endpoint paths or topics', async () => {
      const g = await start();
      const ok = distributor.subscribe();
      const gone = distributor.unknownEndpoint();
      const failing = distributor.subscribe();
      distributor.script(failing.topic, ...Array.from({ length: 4 }, () => ({ status: 500 })));
      const body = notifyBody({}, {});
      body.notification.devices = [ok.endpoint, gone, failing.endpoint].map((pushkey) => ({ app_id: APP, pushkey, data: {} }));
      await post(g, body);
      for (const secret of [ok.topic, failing.topic, new URL(gone).pathname]) assert.ok(!g.logs.raw.includes(secret), `${secret} logged`);
      assert.ok(g.logs.raw.includes(distributor.host), 'the host is logged');
    });
  });

  describe('discovery and routing', () => {
    it('answers the UnifiedPush discovery on GET of the notify path when a unifiedpush app is configured', async () => {
      const g = await start();
      const response = await fetch(g.url + NOTIFY);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { gateway: 'matrix', unifiedpush: { gateway: 'matrix' } });
    });

    it('answers 405 to GET without a unifiedpush app', async () => {
      gw = await startGateway('apps:\n  com.example.noop: { type: noop }\n');
      const response = await fetch(gw.url + NOTIFY);
      assert.equal(response.status, 405);
      assert.equal(response.headers.get('allow'), 'POST');
      assert.equal(((await response.json()) as { errcode: string }).errcode, 'M_UNRECOGNIZED');
    });

    it('a catch-all "*" unifiedpush app serves every app id but the exact APNs and FCM ones', async () => {
      const harness = new ApnsHarness();
      const fcm = await FcmMock.start();
      try {
        const apns = await harness.mock();
        const ios = 'org.example.chat.ios';
        const android = 'org.example.chat.android';
        const apps = [
          `  ${JSON.stringify(ios)}: ${JSON.stringify(harness.tokenApp(apns))}`,
          fcm.appYaml(android),
          `  "*": ${JSON.stringify({ type: 'unifiedpush', allow_private_endpoints: true, allowed_endpoints: [distributor.host] })}`,
        ];
        gw = await startGateway(`apps:\n${apps.join('\n')}\n`);
        const phone = apnsDevice('catch-all');
        const up = distributor.subscribe();
        const body = notifyBody({}, {});
        body.notification.devices = [
          { app_id: ios, pushkey: phone.pushkey, data: {} },
          { app_id: android, pushkey: 'fcm-registration-token', data: {} },
          { app_id: 'org.example.anything.else', pushkey: up.endpoint, data: {} },
        ];
        const reply = await post(gw, body);
        assert.deepEqual([reply.status, reply.body], [200, { rejected: [] }]);
        assert.equal(apns.requestsFor(phone.hex).length, 1, 'the exact APNs app');
        assert.equal(fcm.sendsTo('fcm-registration-token').length, 1, 'the exact FCM app');
        assert.equal(distributor.deliveredTo(up.topic).length, 1, 'the catch-all');
      } finally {
        await gw?.close();
        gw = undefined;
        await harness.close();
        await fcm.close();
      }
    });
  });
});
