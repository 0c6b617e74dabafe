import assert from 'node:assert/strict';
import { APP, ApnsHarness, device as apnsDevice, fastClock } from '../helpers/apns-harness';
import { notifyBody, startGateway, type RunningGateway } from '../helpers/gateway';
import { OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver';
import { unusedPort } from '../upstreams/ports';
import { ScriptedPlatform } from '../helpers/scripted-pushkin';

const NOTIFY = '/_matrix/push/v1/notify';
/** OTLP's SpanKind and status codes. */
const SERVER = 2;
const INTERNAL = 1;
const STATUS_ERROR = 2;

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN_ID = '00f067aa0ba902b7';

function tracingYaml(endpoint: string, extra = ''): string {
  return `
tracing:
  enabled: true
  service_name: herald-under-test
  otlp_endpoint: '${endpoint}'
  headers: {x-api-key: collector-secret}
  sample_ratio: 1
${extra}apps:
  com.example.app:
    type: scripted
`;
}

async function post(gw: RunningGateway, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(gw.url + NOTIFY, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('tracing (OpenTelemetry over OTLP/HTTP)', () => {
  let receiver: OtlpReceiver;
  let platform: ScriptedPlatform;
  let gw: RunningGateway | undefined;

  beforeEach(async () => {
    receiver = new OtlpReceiver();
    platform = new ScriptedPlatform();
  });
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
    await receiver.stop();
  });

  /** Starts a gateway exporting to the receiver; closing it exports what is queued. */
  async function start(extra = ''): Promise<RunningGateway> {
    const endpoint = await receiver.start();
    gw = await startGateway(tracingYaml(endpoint, extra), { pushkinTypes: platform.types() });
    return gw;
  }

  async function closeAndCollect(): Promise<void> {
    await gw?.close();
    gw = undefined;
  }

  it('traces a two-device notification with one rejected device: a server span and a child per device', async () => {
    const running = await start();
    const body = notifyBody(
      { event_id: '$traced:example.org', devices: [
        { app_id: 'com.example.app', pushkey: 'delivered-secret-pushkey-1', pushkey_ts: 1, data: { url: 'https://push.example.org/secret-endpoint' } },
        { app_id: 'com.example.app', pushkey: 'reject-secret-pushkey-2', pushkey_ts: 1 },
      ] },
    );
    const answer = await post(running, body, { traceparent: `00-${TRACE_ID}-${CALLER_SPAN_ID}-01`, tracestate: 'vendor=opaque' });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, { rejected: ['reject-secret-pushkey-2'] });
    await closeAndCollect();

    const [root, ...others] = receiver.named('pushgateway_v1_notify');
    assert.ok(root, 'a pushgateway_v1_notify span');
    assert.equal(others.length, 0);
    assert.equal(root.kind, SERVER);
    assert.equal(root.traceId, TRACE_ID, 'the trace continues the caller’s traceparent');
    assert.equal(root.parentSpanId, CALLER_SPAN_ID);
    assert.equal(root.attributes.event_id, '$traced:example.org');
    assert.equal(root.attributes.has_content, true);
    assert.equal(root.attributes['herald.device_count'], 2);
    assert.equal(root.attributes['http.response.status_code'], 200);
    assert.equal(root.attributes['http.route'], NOTIFY);
    assert.match(String(root.attributes.request_id), /.+/);
    assert.equal(root.resource['service.name'], 'herald-under-test');

    const devices = receiver.named('pushkin_dispatch');
    assert.equal(devices.length, 2);
    for (const span of devices) {
      assert.equal(span.traceId, TRACE_ID);
      assert.equal(span.parentSpanId, root.spanId);
      assert.equal(span.kind, INTERNAL);
      assert.equal(span.attributes['herald.app_id'], 'com.example.app');
      assert.equal(span.attributes['herald.app'], 'com.example.app');
      assert.equal(span.attributes['herald.platform'], 'scripted');
    }
    const outcomes = devices.map((span) => span.attributes['herald.outcome']).sort();
    assert.deepEqual(outcomes, ['delivered', 'rejected']);
    const rejected = devices.find((span) => span.attributes['herald.outcome'] === 'rejected') as ReceivedSpan;
    assert.equal(rejected.attributes['herald.outcome.reason'], 'scripted rejection');

    // The collector's headers are sent; nothing of the notification is.
    assert.equal(receiver.headers[0]?.['x-api-key'], 'collector-secret');
    const exported = receiver.bodies.join('\n');
    for (const secret of ['secret-pushkey', 'secret-endpoint', 'push.example.org', 'Hello there', 'Alice', 'Lunch']) {
      assert.ok(!exported.includes(secret), `${secret} must not be in a span`);
    }
  });

  it('records what APNs answered, the attempts, and the outcome of each device (one retried then delivered, one rejected)', async () => {
    const harness = new ApnsHarness();
    try {
      const mock = await harness.mock();
      const flaky = apnsDevice('traced-flaky');
      const dead = apnsDevice('traced-dead');
      mock.script(flaky.hex, { status: 503, reason: 'ServiceUnavailable' }, { status: 200 });
      mock.script(dead.hex, { status: 410, reason: 'Unregistered' });
      const endpoint = await receiver.start();
      const { clock } = fastClock();
      gw = await startGateway(
        `tracing: {enabled: true, otlp_endpoint: '${endpoint}'}\napps: ${JSON.stringify({ [APP]: harness.tokenApp(mock) })}\n`,
        { clock },
      );
      const two = await post(gw, notifyBody({ event_id: '$apns-traced:example.org', devices: [
        { app_id: APP, pushkey: flaky.pushkey },
        { app_id: APP, pushkey: dead.pushkey },
      ] }));
      assert.equal(two.status, 200);
      assert.deepEqual(two.body, { rejected: [dead.pushkey] });
      await closeAndCollect();
    } finally {
      await harness.close();
    }
    const root = receiver.named('pushgateway_v1_notify').find((span) => span.attributes.event_id === '$apns-traced:example.org');
    assert.ok(root);
    const devices = receiver.spans.filter((span) => span.parentSpanId === root.spanId);
    const byOutcome = Object.fromEntries(devices.map((span) => [span.attributes['herald.outcome'], span.attributes]));
    assert.deepEqual(Object.keys(byOutcome).sort(), ['delivered', 'rejected']);
    assert.equal(byOutcome.delivered?.['herald.platform'], 'apns');
    assert.equal(byOutcome.delivered?.['herald.attempts'], 2);
    assert.equal(byOutcome.delivered?.['herald.upstream.status_code'], 200);
    assert.equal(byOutcome.rejected?.['herald.attempts'], 1);
    assert.equal(byOutcome.rejected?.['herald.upstream.status_code'], 410);
    assert.equal(byOutcome.rejected?.['herald.outcome.reason'], 'APNs answered 410 Unregistered');
  });

  it('records how long a device waited behind inflight_request_limit', async () => {
    const endpoint = await receiver.start();
    gw = await startGateway(
      `tracing: {enabled: true, otlp_endpoint: '${endpoint}'}\napps:\n  com.example.app: {type: scripted, inflight_request_limit: 1}\n`,
      { pushkinTypes: platform.types() },
    );
    const answer = await post(gw, notifyBody({ devices: [
      { app_id: 'com.example.app', pushkey: 'slow-100-first' },
      { app_id: 'com.example.app', pushkey: 'second' },
    ] }));
    assert.equal(answer.status, 200);
    await closeAndCollect();
    const waited = receiver.named('pushkin_dispatch').map((span) => span.attributes['herald.inflight.queued_ms']);
    assert.equal(waited.filter((ms) => ms === undefined).length, 1, 'the first device took the slot at once');
    assert.ok(waited.some((ms) => typeof ms === 'number' && ms > 0), 'the second waited for it');
  });

  it("continues the trace of Jaeger's uber-trace-id header (what Synapse's OpenTracing sends)", async () => {
    const running = await start();
    const jaegerTrace = '0000000000000000abcdef0123456789';
    const jaegerSpan = '0123456789abcdef';
    // Jaeger's 64-bit trace ids are sent without leading zeros.
    const answer = await post(running, notifyBody(), { 'uber-trace-id': `abcdef0123456789:${jaegerSpan}:0:1` });
    assert.equal(answer.status, 200);
    await closeAndCollect();
    const [root] = receiver.named('pushgateway_v1_notify');
    assert.ok(root);
    assert.equal(root.traceId, jaegerTrace);
    assert.equal(root.parentSpanId, jaegerSpan);
  });

  it('starts a new trace without caller context, and marks a 502 and its retried device as errors', async () => {
    const running = await start();
    const answer = await post(running, notifyBody({}, { pushkey: 'retry-later' }));
    assert.equal(answer.status, 502);
    await closeAndCollect();
    const [root] = receiver.named('pushgateway_v1_notify');
    assert.ok(root);
    assert.equal(root.parentSpanId, undefined);
    assert.equal(root.attributes['http.response.status_code'], 502);
    assert.equal(root.statusCode, STATUS_ERROR);
    const [device] = receiver.named('pushkin_dispatch');
    assert.ok(device);
    assert.equal(device.attributes['herald.outcome'], 'retry');
    assert.equal(device.attributes['herald.retry_after_ms'], 1500);
    assert.equal(device.statusCode, STATUS_ERROR);
  });

  it('records no span for a trace the caller did not sample, and still answers', async () => {
    const running = await start();
    const answer = await post(running, notifyBody(), { traceparent: `00-${TRACE_ID}-${CALLER_SPAN_ID}-00` });
    assert.equal(answer.status, 200);
    await closeAndCollect();
    assert.deepEqual(receiver.spans, []);
  });

  it('answers as usual when the collector is down, and says so in one log line', async () => {
    const port = await unusedPort();
    gw = await startGateway(tracingYaml(`http://127.0.0.1:${port}`), { pushkinTypes: platform.types() });
    const logs = gw.logs;
    for (let i = 0; i < 5; i++) {
      const answer = await post(gw, notifyBody({ event_id: `$down-${i}:example.org` }));
      assert.equal(answer.status, 200);
    }
    const started = Date.now();
    await closeAndCollect();
    // Shutdown waits a few seconds at most, never for the collector to come back (a generous bound: the machine may be slow).
    assert.ok(Date.now() - started < 10_000, 'shutdown is bounded');
    const warnings = logs.lines.filter((line) => String(line.msg).startsWith('tracing:'));
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.equal(warnings[0]?.level, 40);
    assert.match(String(warnings[0]?.msg), /collector|exported/);
  });
});
