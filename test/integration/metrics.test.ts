import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Metrics } from '../../src/metrics/metrics';
import { ApnsHarness, device } from '../helpers/apns-harness';
import type { ApnsMock } from '../helpers/apns-mock';
import { FcmMock } from '../helpers/fcm-mock';
import { startGateway, type RunningGateway } from '../helpers/gateway';

const APNS = 'com.example.ios';
const FCM_APP = 'com.example.android';
const NOOP = 'com.example.noop';

/** Parses Prometheus text into `name{labels}` → value. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

describe('Prometheus metrics', function () {
  this.timeout(30_000);
  const harness = new ApnsHarness();
  let apns: ApnsMock;
  let fcm: FcmMock;
  let gw: RunningGateway;
  let metricsUrl: string;

  before(async () => {
    apns = await harness.mock();
    fcm = await FcmMock.start();
    const apps = `apps:\n  ${APNS}: ${JSON.stringify(harness.tokenApp(apns))}\n${fcm.appYaml(FCM_APP)}\n  ${NOOP}: {type: noop}\n`;
    gw = await startGateway(`metrics: {prometheus: {enabled: true, address: '127.0.0.1', port: 0}}\n${apps}`, {
      metrics: new Metrics({ defaultMetrics: true }),
    });
    const address = await gw.gateway.listenMetrics();
    assert.ok(address);
    metricsUrl = `http://127.0.0.1:${address.port}/metrics`;
  });
  after(async () => {
    await gw.close();
    await fcm.close();
    await harness.close();
  });

  async function post(body: unknown): Promise<number> {
    const response = await fetch(`${gw.url}/_matrix/push/v1/notify`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
    await response.arrayBuffer();
    return response.status;
  }

  it('serves Sygnal-named metrics that move by the right amounts after real traffic', async () => {
    const before = parse(await (await fetch(metricsUrl)).text());
    assert.equal(before.get('sygnal_notifications_received_total'), 0);
    assert.equal(before.get(`sygnal_inflight_request_limit_drop_total{pushkin="${APNS}"}`), 0, 'labelled series exist from start-up');

    const live = device('metrics-live');
    const dead = device('metrics-dead');
    apns.script(dead.hex, { status: 410, reason: 'Unregistered' });
    const three = {
      notification: {
        event_id: '$m1',
        room_id: '!r:x',
        type: 'm.room.message',
        sender: '@a:x',
        content: { msgtype: 'm.text', body: 'hello' },
        counts: { unread: 1 },
        devices: [
          { app_id: APNS, pushkey: live.pushkey },
          { app_id: FCM_APP, pushkey: 'fcm-live' },
          { app_id: NOOP, pushkey: 'noop-live' },
        ],
      },
    };
    assert.equal(await post(three), 200);
    assert.equal(await post({ notification: { event_id: '$m2', type: 'm.room.message', devices: [{ app_id: APNS, pushkey: dead.pushkey }] } }), 200);
    assert.equal(await post({ notification: { devices: [{ app_id: 'com.unknown', pushkey: 'x' }] } }), 200);
    assert.equal(await post('{"not json'), 400);
    assert.equal(await post(three), 200); // the homeserver retries: de-duplicated

    const after = parse(await (await fetch(metricsUrl)).text());
    const expected: Record<string, number> = {
      sygnal_notifications_received_total: 4,
      sygnal_notifications_devices_received_total: 8,
      'sygnal_pushgateway_status_codes_total{code="200"}': 4,
      'sygnal_pushgateway_status_codes_total{code="400"}': 1,
      'sygnal_notify_time_count{code="200"}': 4,
      'sygnal_notify_time_count{code="400"}': 1,
      sygnal_requests_in_flight: 0,
      'sygnal_per_pushkin_type_total{pushkin="apns"}': 3,
      'sygnal_per_pushkin_type_total{pushkin="gcm"}': 2,
      'sygnal_per_pushkin_type_total{pushkin="noop"}': 2,
      [`sygnal_apns_status_codes_total{pushkin="${APNS}",code="200"}`]: 1,
      [`sygnal_apns_status_codes_total{pushkin="${APNS}",code="410"}`]: 1,
      [`sygnal_apns_request_time_count{pushkin="${APNS}"}`]: 2,
      [`sygnal_active_apns_requests{pushkin="${APNS}"}`]: 0,
      [`sygnal_gcm_status_codes_total{pushkin="${FCM_APP}",code="200"}`]: 1,
      [`sygnal_gcm_request_time_count{pushkin="${FCM_APP}"}`]: 1,
      [`sygnal_active_gcm_requests{pushkin="${FCM_APP}"}`]: 0,
      [`sygnal_device_outcomes_total{pushkin="${APNS}",outcome="delivered"}`]: 1,
      [`sygnal_device_outcomes_total{pushkin="${APNS}",outcome="rejected"}`]: 1,
      [`sygnal_device_outcomes_total{pushkin="${FCM_APP}",outcome="delivered"}`]: 1,
      [`sygnal_deduplicated_total{pushkin="${APNS}"}`]: 1,
      [`sygnal_deduplicated_total{pushkin="${FCM_APP}"}`]: 1,
      [`sygnal_deduplicated_total{pushkin="${NOOP}"}`]: 1,
      'sygnal_unroutable_pushkeys_total{reason="unknown"}': 1,
    };
    for (const [series, value] of Object.entries(expected)) {
      assert.equal((after.get(series) ?? 0) - (before.get(series) ?? 0), value, series);
    }
    assert.ok(after.has('process_cpu_user_seconds_total'), 'Node.js process metrics are exported');
    assert.ok((after.get(`sygnal_apns_request_time_bucket{le="+Inf",pushkin="${APNS}"}`) ?? 0) >= 2);
  });

  it('answers 404 outside /metrics', async () => {
    const response = await fetch(metricsUrl.replace('/metrics', '/other'));
    assert.equal(response.status, 404);
  });

  it('are all documented in docs/metrics.md', async () => {
    const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'metrics.md'), 'utf8');
    const names = (await gw.metrics.registry.getMetricsAsJSON()).map((m) => m.name).filter((name) => name.startsWith('sygnal_'));
    assert.ok(names.length > 20);
    for (const name of names) assert.ok(doc.includes(`\`${name}\``), `${name} is not in docs/metrics.md`);
  });
});
