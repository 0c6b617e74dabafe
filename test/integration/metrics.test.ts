import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Metrics } from '../../src/metrics/metrics';
import { ApnsHarness, device } from '../helpers/apns-harness';
import type { ApnsMock } from '../upstreams/apns-mock';
import { FcmMock } from '../upstreams/fcm-mock';
import { notifyBody, startGateway, type RunningGateway } from '../helpers/gateway';

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

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text into samples with their labels, in exposition order. */
function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `unparsable line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1] ?? ''] = pair[2] ?? '';
    samples.push({ name: match[1] ?? '', labels, value: Number(match[3]) });
  }
  return samples;
}

/**
 * Every series the queries of Sygnal's dashboard (contrib/grafana/Sygnal.json) read, with
 * the exact label names it is exported with (besides Prometheus' job and instance).
 */
const SYGNAL_DASHBOARD_SERIES: Record<string, readonly string[]> = {
  process_cpu_seconds_total: [],
  process_resident_memory_bytes: [],
  process_open_fds: [],
  process_max_fds: [],
  sygnal_notifications_devices_received_total: [],
  sygnal_per_pushkin_type_total: ['pushkin'],
  sygnal_notify_time_bucket: ['code', 'le'],
  sygnal_notify_time_sum: ['code'],
  sygnal_notify_time_count: ['code'],
  sygnal_pushgateway_status_codes_total: ['code'],
  sygnal_requests_in_flight: ['resource'],
  sygnal_pending_gcm_requests: [],
  sygnal_active_gcm_requests: [],
  sygnal_gcm_queue_time_bucket: ['le'],
  sygnal_gcm_queue_time_sum: [],
  sygnal_gcm_queue_time_count: [],
  sygnal_gcm_request_time_bucket: ['le'],
  sygnal_gcm_request_time_sum: [],
  sygnal_gcm_request_time_count: [],
  sygnal_gcm_status_codes_total: ['pushkin', 'code'],
  sygnal_active_apns_requests: [],
  sygnal_apns_status_codes_total: ['pushkin', 'code'],
  sygnal_apns_request_time_bucket: ['le'],
  sygnal_apns_request_time_sum: [],
  sygnal_apns_request_time_count: [],
};

/** Sygnal's own metric names (`sygnal/http.py`, `sygnal/*pushkin.py`); every other metric is Herald's and named herald_*. */
const SYGNAL_METRICS = new Set([
  'sygnal_notifications_received_total',
  'sygnal_notifications_devices_received_total',
  'sygnal_per_pushkin_type_total',
  'sygnal_pushgateway_status_codes_total',
  'sygnal_notify_time',
  'sygnal_requests_in_flight',
  'sygnal_inflight_request_limit_drop_total',
  'sygnal_apns_request_time',
  'sygnal_active_apns_requests',
  'sygnal_apns_status_codes_total',
  'sygnal_client_cert_expiry',
  'sygnal_gcm_queue_time',
  'sygnal_gcm_request_time',
  'sygnal_pending_gcm_requests',
  'sygnal_active_gcm_requests',
  'sygnal_gcm_status_codes_total',
  'sygnal_webpush_queue_time',
  'sygnal_webpush_request_time',
  'sygnal_pending_webpush_requests',
  'sygnal_active_webpush_requests',
]);

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

  /** One device of each app. */
  function notifyAll(eventId: string) {
    return notifyBody({
      event_id: eventId,
      devices: [
        { app_id: APNS, pushkey: device(`dash-${eventId}`).pushkey },
        { app_id: FCM_APP, pushkey: `fcm-${eventId}` },
        { app_id: NOOP, pushkey: `noop-${eventId}` },
      ],
    });
  }

  async function post(body: unknown): Promise<number> {
    const response = await fetch(`${gw.url}/_matrix/push/v1/notify`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
    await response.arrayBuffer();
    return response.status;
  }

  it('serves Sygnal\'s and Herald\'s metrics that move by the right amounts after real traffic', async () => {
    const before = parse(await (await fetch(metricsUrl)).text());
    assert.equal(before.get('sygnal_notifications_received_total'), 0);
    assert.equal(before.get(`sygnal_inflight_request_limit_drop_total{pushkin="${APNS}"}`), 0, 'labelled series exist from start-up');

    const dead = device('metrics-dead');
    apns.script(dead.hex, { status: 410, reason: 'Unregistered' });
    const three = notifyAll('$m1');
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
      'sygnal_requests_in_flight{resource="V1NotifyHandler"}': 0,
      [`sygnal_per_pushkin_type_total{pushkin="${APNS}"}`]: 3,
      [`sygnal_per_pushkin_type_total{pushkin="${FCM_APP}"}`]: 2,
      [`sygnal_per_pushkin_type_total{pushkin="${NOOP}"}`]: 2,
      [`sygnal_apns_status_codes_total{pushkin="${APNS}",code="200"}`]: 1,
      [`sygnal_apns_status_codes_total{pushkin="${APNS}",code="410"}`]: 1,
      sygnal_apns_request_time_count: 2,
      sygnal_active_apns_requests: 0,
      [`sygnal_gcm_status_codes_total{pushkin="${FCM_APP}",code="200"}`]: 1,
      sygnal_gcm_request_time_count: 1,
      sygnal_gcm_queue_time_count: 1,
      sygnal_active_gcm_requests: 0,
      sygnal_pending_gcm_requests: 0,
      [`herald_device_outcomes_total{pushkin="${APNS}",outcome="delivered"}`]: 1,
      [`herald_device_outcomes_total{pushkin="${APNS}",outcome="rejected"}`]: 1,
      [`herald_device_outcomes_total{pushkin="${FCM_APP}",outcome="delivered"}`]: 1,
      [`herald_deduplicated_total{pushkin="${APNS}"}`]: 1,
      [`herald_deduplicated_total{pushkin="${FCM_APP}"}`]: 1,
      [`herald_deduplicated_total{pushkin="${NOOP}"}`]: 1,
      'herald_unroutable_pushkeys_total{reason="unknown"}': 1,
    };
    for (const [series, value] of Object.entries(expected)) {
      assert.equal((after.get(series) ?? 0) - (before.get(series) ?? 0), value, series);
    }
    assert.ok(after.has('process_cpu_user_seconds_total'), 'Node.js process metrics are exported');
    assert.ok((after.get('sygnal_apns_request_time_bucket{le="+Inf"}') ?? 0) >= 2);
  });

  it("exports every series Sygnal's Grafana dashboard queries, with Sygnal's labels and buckets", async () => {
    assert.equal(await post(notifyAll('$dashboard')), 200);
    const samples = parseSamples(await (await fetch(metricsUrl)).text());
    for (const [series, labelNames] of Object.entries(SYGNAL_DASHBOARD_SERIES)) {
      const found = samples.filter((sample) => sample.name === series);
      assert.ok(found.length > 0, `${series} is exported`);
      for (const sample of found) assert.deepEqual(Object.keys(sample.labels).sort(), [...labelNames].sort(), `labels of ${series}`);
    }
    const values = (series: string, label: string) => new Set(samples.filter((s) => s.name === series).map((s) => s.labels[label]));
    // "Rate of Push by App" legends by app name; the in-flight panel by resource.
    assert.deepEqual(values('sygnal_per_pushkin_type_total', 'pushkin'), new Set([APNS, FCM_APP, NOOP]));
    assert.deepEqual(values('sygnal_requests_in_flight', 'resource'), new Set(['V1NotifyHandler']));
    assert.ok(values('sygnal_notify_time_bucket', 'code').has('200'), 'the response-time panels select code="200"');
    const sygnalBounds = ['0.005', '0.01', '0.025', '0.05', '0.075', '0.1', '0.25', '0.5', '0.75', '1', '2.5', '5', '7.5', '10', '+Inf'];
    for (const histogram of ['sygnal_notify_time', 'sygnal_apns_request_time', 'sygnal_gcm_request_time', 'sygnal_gcm_queue_time']) {
      const bounds = samples.filter((s) => s.name === `${histogram}_bucket` && (s.labels.code ?? '200') === '200').map((s) => s.labels.le);
      assert.deepEqual(bounds, sygnalBounds, `buckets of ${histogram}`);
    }
  });

  it('answers 404 outside /metrics', async () => {
    const response = await fetch(metricsUrl.replace('/metrics', '/other'));
    assert.equal(response.status, 404);
  });

  it('are all documented in docs/metrics.md', async () => {
    const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'metrics.md'), 'utf8');
    const names = (await gw.metrics.registry.getMetricsAsJSON()).map((m) => m.name).filter((name) => /^(sygnal|herald)_/.test(name));
    assert.ok(names.length > 20);
    for (const name of names) assert.ok(doc.includes(`\`${name}\``), `${name} is not in docs/metrics.md`);
  });

  it("are what docs/grafana/herald.json charts: every metric its queries name is exported", async () => {
    const dashboard = JSON.parse(readFileSync(join(__dirname, '..', '..', 'docs', 'grafana', 'herald.json'), 'utf8')) as {
      panels: Array<{ targets?: Array<{ expr: string }> }>;
    };
    const exported = new Set((await gw.metrics.registry.getMetricsAsJSON()).map((m) => m.name));
    const queried = dashboard.panels.flatMap((panel) => panel.targets ?? []).flatMap((target) => target.expr.match(/\b(?:herald|sygnal)_[a-z_]+/g) ?? []);
    assert.ok(queried.length > 5);
    for (const name of queried) assert.ok(exported.has(name.replace(/_(bucket|sum|count)$/, '')), `${name} is queried but not exported`);
  });

  it('docs/grafana/herald.json charts what docs/metrics.md says to alert on, Web Push and caller refusals', () => {
    const dashboard = JSON.parse(readFileSync(join(__dirname, '..', '..', 'docs', 'grafana', 'herald.json'), 'utf8')) as {
      panels: Array<{ targets?: Array<{ expr: string }> }>;
    };
    const charted = new Set(dashboard.panels.flatMap((panel) => panel.targets ?? []).flatMap((target) => target.expr.match(/\b(?:herald|sygnal)_[a-z_]+/g) ?? []));
    const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'metrics.md'), 'utf8');
    const alerts = /## Alerts worth having\n+```yaml\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
    const alerted: string[] = alerts.match(/\b(?:herald|sygnal)_[a-z_]+/g) ?? [];
    assert.ok(alerted.includes('herald_store_errors_total'));
    for (const name of [...alerted, 'herald_webpush_status_codes_total', 'herald_webpush_endpoints_refused_total', 'herald_callers_refused_total']) {
      assert.ok(charted.has(name), `${name} has a panel`);
    }
  });

  it('name only Sygnal\'s own metrics sygnal_*', async () => {
    const names = (await gw.metrics.registry.getMetricsAsJSON()).map((m) => m.name);
    const foreign = names.filter((name) => name.startsWith('sygnal_') && !SYGNAL_METRICS.has(name) && !name.startsWith('sygnal_webpush_'));
    assert.deepEqual(foreign, [], 'Herald\'s own metrics are named herald_*');
  });
});
