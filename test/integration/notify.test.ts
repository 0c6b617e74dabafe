import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import request from 'supertest';
import { startGateway, notifyBody, type RunningGateway } from '../helpers/gateway';
import { ScriptedPlatform } from '../helpers/scripted-pushkin';
import { assertUpstreamNotifyResponse } from '../helpers/upstream-schema';

const NOTIFY = '/_matrix/push/v1/notify';

const APPS = `
apps:
  com.example.app:
    type: scripted
  com.example.noop:
    type: noop
    reject_pushkeys: ['dead-noop-key']
  "*.glob.example":
    type: scripted
`;

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

/**
 * POSTs to the gateway's notify endpoint over its listener; JSON unless other headers are
 * given. startGateway checks the answer against openapi/herald.yaml; here, a 200 is also
 * checked against the Matrix spec's own schema.
 */
async function post(gw: RunningGateway, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<Answer> {
  const response = await request(gw.url)
    .post(NOTIFY)
    .set(headers)
    .send(typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body));
  assert.match(response.headers['content-type'] ?? '', /^application\/json/, `content-type of ${response.text}`);
  const parsed = JSON.parse(response.text) as Record<string, unknown>;
  if (response.status === 200) assertUpstreamNotifyResponse(parsed);
  return { status: response.status, body: parsed, headers: response.headers as Record<string, string> };
}

describe('POST /_matrix/push/v1/notify', () => {
  let gw: RunningGateway;
  let platform: ScriptedPlatform;

  beforeEach(async () => {
    platform = new ScriptedPlatform();
    gw = await startGateway(APPS, { pushkinTypes: platform.types() });
  });
  afterEach(() => gw.close());

  describe('what real homeservers send', () => {
    const variants: Record<string, unknown> = {
      'the spec example': notifyBody(),
      'Synapse full format (legacy id, membership, user_is_target, no room_alias)': notifyBody({
        id: '$event1:example.org',
        type: 'm.room.member',
        membership: 'invite',
        user_is_target: true,
        content: { membership: 'invite' },
      }),
      'Synapse event_id_only': {
        notification: {
          event_id: '$e:x',
          room_id: '!r:x',
          prio: 'high',
          counts: { unread: 1 },
          devices: [{ app_id: 'com.example.app', pushkey: 'pk', pushkey_ts: 1, data: { format: 'event_id_only' } }],
        },
      },
      'Synapse badge-only after a read receipt (type null, empty id and sender)': {
        notification: { id: '', type: null, sender: '', counts: { unread: 0 }, devices: [{ app_id: 'com.example.app', pushkey: 'pk' }] },
      },
      'Dendrite (data null, no prio)': notifyBody({ prio: undefined }, { data: null }),
      'tuwunel (room_alias, no prio, no pushkey_ts)': notifyBody({ room_alias: '#lunch:x', prio: undefined }, { pushkey_ts: undefined }),
      'pushkey_ts in milliseconds': notifyBody({}, { pushkey_ts: 1_700_000_000_000 }),
      'no counts': notifyBody({ counts: undefined }),
      'empty data and tweaks with non-string values': notifyBody({}, { data: {}, tweaks: { sound: 'default', highlight: true, weird: 3, list: [1] } }),
      'unknown extra keys everywhere': notifyBody({ future_key: { a: 1 }, counts: { unread: 1, other: 5 } }, { extra: 'x', data: { custom: [1, 2] } }),
      'no devices': { notification: { devices: [] } },
      'content null': notifyBody({ content: null }),
    };
    for (const [name, body] of Object.entries(variants)) {
      it(`accepts ${name}`, async () => {
        const answer = await post(gw, body);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.deepEqual(answer.body, { rejected: [] });
      });
    }

    it('reads the body as JSON even without a JSON content type', async () => {
      const answer = await post(gw, JSON.stringify(notifyBody()), { 'content-type': 'text/plain' });
      assert.equal(answer.status, 200);
    });

    it('reads the body as JSON without a Content-Type header', async () => {
      // A Buffer body makes supertest send no Content-Type of its own.
      const answer = await post(gw, Buffer.from(JSON.stringify(notifyBody())), {});
      assert.equal(answer.status, 200);
    });
  });

  describe('refusals', () => {
    it('answers 400 M_NOT_JSON for malformed JSON', async () => {
      const answer = await post(gw, '{"notification": ');
      assert.equal(answer.status, 400);
      assert.equal(answer.body.errcode, 'M_NOT_JSON');
    });

    it('answers 400 M_MISSING_PARAM naming a missing field', async () => {
      const answer = await post(gw, { notification: { devices: [{ app_id: 'com.example.app' }] } });
      assert.equal(answer.status, 400);
      assert.equal(answer.body.errcode, 'M_MISSING_PARAM');
      assert.match(String(answer.body.error), /notification\.devices\[0\]\.pushkey/);
    });

    it('answers 400 M_MISSING_PARAM when notification is missing', async () => {
      const answer = await post(gw, { something: 1 });
      assert.equal(answer.status, 400);
      assert.equal(answer.body.errcode, 'M_MISSING_PARAM');
      assert.match(String(answer.body.error), /notification/);
    });

    it('answers 400 M_BAD_JSON naming a field of the wrong type', async () => {
      const answer = await post(gw, notifyBody({ counts: { unread: 'three' } }));
      assert.equal(answer.status, 400);
      assert.equal(answer.body.errcode, 'M_BAD_JSON');
      assert.match(String(answer.body.error), /notification\.counts\.unread/);
    });

    it('answers 400 for devices that is not a list, and for a body that is not an object', async () => {
      const devices = await post(gw, { notification: { devices: 'x' } });
      assert.equal(devices.status, 400);
      assert.match(String(devices.body.error), /notification\.devices/);
      const array = await post(gw, '[1,2]');
      assert.equal(array.status, 400);
    });

    it('answers 400 for an app_id over 64 characters', async () => {
      const answer = await post(gw, notifyBody({}, { app_id: 'a'.repeat(65) }));
      assert.equal(answer.status, 400);
      assert.match(String(answer.body.error), /app_id/);
    });

    it('answers 400 M_NOT_JSON for a body that does not decompress', async () => {
      const answer = await post(gw, 'not gzip at all', { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      assert.equal(answer.status, 400);
      assert.equal(answer.body.errcode, 'M_NOT_JSON');
    });

    it('answers 413 M_TOO_LARGE for a body over the limit', async () => {
      const answer = await post(gw, notifyBody({ content: { body: 'x'.repeat(600 * 1024) } }));
      assert.equal(answer.status, 413);
      assert.equal(answer.body.errcode, 'M_TOO_LARGE');
    });

    it('does not count a homeserver that hangs up mid-body as an error of ours', async () => {
      const port = Number(new URL(gw.url).port);
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(`POST ${NOTIFY} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"notification":`);
      });
      // Hang up once the gateway has the request, so it is surely mid-body.
      const hangUp = (message: unknown): void => {
        const { server } = message as { server: Server };
        if ((server.address() as AddressInfo).port === port) socket.destroy();
      };
      subscribe('http.server.request.start', hangUp);
      // The request's end, either way: the debug line of a client gone, or the error line of a 500.
      const ended = await gw.logs
        .line((line) => line.msg === 'the client closed the connection before sending the whole body' || line.msg === 'request failed')
        .finally(() => unsubscribe('http.server.request.start', hangUp));
      assert.equal(ended.msg, 'the client closed the connection before sending the whole body');
      const metrics = await gw.metrics.registry.getSingleMetricAsString('sygnal_pushgateway_status_codes_total');
      assert.doesNotMatch(metrics, /code="500"/);
      assert.equal((await gw.metrics.registry.getSingleMetric('sygnal_requests_in_flight')?.get())?.values[0]?.value, 0);
      assert.ok(!gw.logs.lines.some((line) => line.level === 50), 'nothing logged as an error');
    });

    it('answers 404 M_UNRECOGNIZED for an unknown path', async () => {
      const response = await request(gw.url).post('/_matrix/push/v1/nothing').type('json').send('{}');
      assert.equal(response.status, 404);
      assert.deepEqual(response.body, { errcode: 'M_UNRECOGNIZED', error: 'unrecognized request' });
    });

    it('answers 405 M_UNRECOGNIZED with Allow for a wrong method', async () => {
      const notify = await request(gw.url).get(NOTIFY);
      assert.equal(notify.status, 405);
      assert.equal(notify.headers.allow, 'POST');
      assert.equal(notify.body.errcode, 'M_UNRECOGNIZED');
      const health = await request(gw.url).post('/health');
      assert.equal(health.status, 405);
      assert.equal(health.headers.allow, 'GET');
    });

    it('answers a notification at the path with a trailing slash too', async () => {
      const response = await request(gw.url).post(`${NOTIFY}/`).type('json').send(JSON.stringify(notifyBody()));
      assert.equal(response.status, 200);
    });

    it('ignores a query string', async () => {
      const response = await request(gw.url).post(`${NOTIFY}?since=1`).type('json').send(JSON.stringify(notifyBody()));
      assert.equal(response.status, 200);
    });

    it('GET /health names Herald and its version', async () => {
      const response = await request(gw.url).get('/health');
      assert.equal(response.status, 200);
      assert.match(response.text, /^OK, herald \d+\.\d+\.\d+$/);
    });
  });

  describe('routing by app_id', () => {
    it('routes an exact app_id, and a glob that matches once', async () => {
      const answer = await post(gw, {
        notification: {
          devices: [
            { app_id: 'com.example.app', pushkey: 'delivered-exact' },
            { app_id: 'ios.glob.example', pushkey: 'delivered-glob' },
          ],
        },
      });
      assert.equal(answer.status, 200);
      assert.deepEqual(
        platform.calls.map((c) => [c.app, c.pushkey]),
        [
          ['com.example.app', 'delivered-exact'],
          ['*.glob.example', 'delivered-glob'],
        ],
      );
    });

    it('rejects unknown app_ids (matched case-sensitively), logging the app_id', async () => {
      const answer = await post(gw, {
        notification: {
          devices: [
            { app_id: 'com.unknown.app', pushkey: 'pk-unknown' },
            { app_id: 'COM.EXAMPLE.APP', pushkey: 'pk-case' },
          ],
        },
      });
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body.rejected, ['pk-unknown', 'pk-case']);
      assert.equal(platform.calls.length, 0);
      const warned = gw.logs.lines.filter((l) => l.level === 40).map((l) => `${String(l.app_id)} ${String(l.msg)}`);
      assert.ok(warned.some((w) => w.startsWith('com.unknown.app') && w.includes('matches no configured app')));
      const metrics = await gw.metrics.registry.getSingleMetricAsString('herald_unroutable_pushkeys_total');
      assert.match(metrics, /reason="unknown"\} 2/);
    });

    it('the noop pushkin delivers, and rejects its reject_pushkeys', async () => {
      const answer = await post(gw, {
        notification: {
          devices: [
            { app_id: 'com.example.noop', pushkey: 'fine' },
            { app_id: 'com.example.noop', pushkey: 'dead-noop-key' },
          ],
        },
      });
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body.rejected, ['dead-noop-key']);
    });
  });

  describe('dispatching devices', () => {
    it('dispatches the devices of one notification concurrently', async () => {
      const devices = Array.from({ length: 20 }, (_, i) => ({ app_id: 'com.example.app', pushkey: `slow-200-${i}` }));
      const answer = await post(gw, { notification: { event_id: '$many', devices } });
      assert.equal(answer.status, 200);
      assert.equal(platform.calls.length, 20);
      assert.equal(platform.maxInFlight, 20);
    });

    it('answers 502 with every device outcome when some need a retry, and keeps the others', async () => {
      const answer = await post(gw, {
        notification: {
          event_id: '$mixed',
          devices: [
            { app_id: 'com.example.app', pushkey: 'delivered-a' },
            { app_id: 'com.example.app', pushkey: 'reject-b' },
            { app_id: 'com.example.app', pushkey: 'retry-c' },
            { app_id: 'com.example.app', pushkey: 'misconfig-d' },
            { app_id: 'com.example.app', pushkey: 'fail-e' },
            { app_id: 'com.example.app', pushkey: 'throw-f' },
            { app_id: 'com.example.app', pushkey: 'skip-g' },
          ],
        },
      });
      assert.equal(answer.status, 502);
      assert.equal(answer.headers['retry-after'], '2');
      assert.deepEqual(answer.body.rejected, ['reject-b']);
      const outcomes = (answer.body.devices as Array<{ pushkey: string; outcome: string }>).map((d) => [d.pushkey, d.outcome]);
      assert.deepEqual(outcomes, [
        ['delivered-a', 'delivered'],
        ['reject-b', 'rejected'],
        ['retry-c', 'retry'],
        ['misconfig-d', 'misconfigured'],
        ['fail-e', 'failed'],
        ['throw-f', 'failed'],
        ['skip-g', 'skipped'],
      ]);
      assert.ok(gw.logs.lines.some((l) => l.msg === 'pushkin failed unexpectedly' && l.level === 50));
    });

    it('returns a pushkey rejected during a 502 on the next call that carries it, without sending again', async () => {
      const first = await post(gw, {
        notification: {
          event_id: '$e1',
          devices: [
            { app_id: 'com.example.app', pushkey: 'reject-later' },
            { app_id: 'com.example.app', pushkey: 'retry-x' },
          ],
        },
      });
      assert.equal(first.status, 502);
      const second = await post(gw, notifyBody({ event_id: '$e2' }, { app_id: 'com.example.app', pushkey: 'reject-later' }));
      assert.equal(second.status, 200);
      assert.deepEqual(second.body.rejected, ['reject-later']);
      assert.equal(platform.countFor('reject-later'), 1);
      const metrics = await gw.metrics.registry.getSingleMetricAsString('herald_rejected_from_memory_total');
      assert.match(metrics, /pushkin="com.example.app"\} 1/);
    });

    it('answers 502 when a device has no outcome by the notify deadline', async () => {
      await gw.close();
      gw = await startGateway(APPS, { pushkinTypes: platform.types(), http: { notify_deadline_ms: 300 } });
      const answer = await post(gw, {
        notification: {
          event_id: '$slow',
          devices: [
            { app_id: 'com.example.app', pushkey: 'delivered-1' },
            { app_id: 'com.example.app', pushkey: 'hang-1' },
          ],
        },
      });
      assert.equal(answer.status, 502);
      const devices = answer.body.devices as Array<{ pushkey: string; outcome: string; reason: string }>;
      assert.equal(devices[1]?.outcome, 'retry');
      assert.match(devices[1]?.reason ?? '', /deadline/);
      assert.equal(devices[0]?.outcome, 'delivered');
      const exceeded = await gw.metrics.registry.getSingleMetricAsString('herald_upstream_deadline_exceeded_total');
      assert.match(exceeded, /pushkin="com.example.app"\} 1/);
    });
  });

  describe('de-duplication', () => {
    it('does not notify a device twice when the homeserver retries an event', async () => {
      const body = notifyBody({ event_id: '$dup' }, { app_id: 'com.example.app', pushkey: 'delivered-dup' });
      assert.equal((await post(gw, body)).status, 200);
      assert.equal((await post(gw, body)).status, 200);
      assert.equal(platform.countFor('delivered-dup'), 1);
      const metrics = await gw.metrics.registry.getSingleMetricAsString('herald_deduplicated_total');
      assert.match(metrics, /pushkin="com.example.app"\} 1/);
    });

    it('after a 502, a retry sends only the devices not yet delivered', async () => {
      const body = {
        notification: {
          event_id: '$partial',
          devices: [
            { app_id: 'com.example.app', pushkey: 'delivered-p' },
            { app_id: 'com.example.app', pushkey: 'retry-p' },
          ],
        },
      };
      assert.equal((await post(gw, body)).status, 502);
      assert.equal((await post(gw, body)).status, 502);
      assert.equal(platform.countFor('delivered-p'), 1);
      assert.equal(platform.countFor('retry-p'), 2);
    });

    it('a retry arriving while the first send is in flight waits for it instead of sending again', async () => {
      const body = notifyBody({ event_id: '$concurrent' }, { app_id: 'com.example.app', pushkey: 'slow-300-c' });
      const [a, b] = await Promise.all([post(gw, body), post(gw, body)]);
      assert.equal(a.status, 200);
      assert.equal(b.status, 200);
      assert.equal(platform.countFor('slow-300-c'), 1);
    });

    it('the same event to another device, or another event to the same device, is sent', async () => {
      await post(gw, notifyBody({ event_id: '$x' }, { app_id: 'com.example.app', pushkey: 'delivered-1' }));
      await post(gw, notifyBody({ event_id: '$x' }, { app_id: 'com.example.app', pushkey: 'delivered-2' }));
      await post(gw, notifyBody({ event_id: '$y' }, { app_id: 'com.example.app', pushkey: 'delivered-1' }));
      assert.equal(platform.countFor('delivered-1'), 2);
      assert.equal(platform.countFor('delivered-2'), 1);
    });

    it('never de-duplicates badge-only pushes', async () => {
      const badge = { notification: { id: '', type: null, sender: '', counts: { unread: 3 }, devices: [{ app_id: 'com.example.app', pushkey: 'delivered-badge' }] } };
      await post(gw, badge);
      await post(gw, badge);
      assert.equal(platform.countFor('delivered-badge'), 2);
    });
  });
});
