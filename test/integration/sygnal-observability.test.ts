import assert from 'node:assert/strict';
import { notifyBody } from '../helpers/gateway';
import { OtlpReceiver } from '../helpers/otlp-receiver';
import { HeraldProcess } from '../helpers/process';
import { SentryReceiver } from '../helpers/sentry-receiver';

describe("a Sygnal configuration with metrics.opentracing and metrics.sentry enabled", () => {
  const otlp = new OtlpReceiver();
  const sentry = new SentryReceiver();
  let herald: HeraldProcess | undefined;

  afterEach(async () => {
    await herald?.stop();
    await otlp.stop();
    await sentry.stop();
  });

  it('sends traces of the caller’s uber-trace-id to the OTLP collector, and starts Sentry', async () => {
    const collector = await otlp.start();
    const dsn = await sentry.start();
    herald = HeraldProcess.withConfig(
      `
http: {port: 0, bind_addresses: ['127.0.0.1']}
metrics:
  opentracing:
    enabled: true
    implementation: jaeger
    jaeger:
      sampler: {type: const, param: 1}
      logging: true
      local_agent: {reporting_host: 127.0.0.1}
    service_name: sygnal
  sentry:
    enabled: true
    dsn: '${dsn}'
apps:
  com.example.app:
    type: noop
`,
      // The collector's port is the test's, not Jaeger's 4318: the standard variable names it.
      { OTEL_EXPORTER_OTLP_ENDPOINT: collector },
    );
    const url = await herald.url();
    const warning = herald.lines.find((line) => String(line.msg).startsWith("metrics.opentracing: Sygnal's OpenTracing (Jaeger) settings"));
    assert.ok(warning, 'the mapping is explained');
    assert.ok(herald.lines.some((line) => line.msg === 'error reports go to Sentry (metrics.sentry)'));

    const response = await fetch(`${url}/_matrix/push/v1/notify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'uber-trace-id': '1f2e3d4c5b6a7988:a1b2c3d4e5f60718:0:1' },
      body: JSON.stringify(notifyBody({}, { app_id: 'com.example.app' })),
    });
    assert.equal(response.status, 200);
    assert.equal(await herald.stop(), 0);
    herald = undefined;

    const [root] = otlp.named('pushgateway_v1_notify');
    assert.ok(root, 'the notify span reached the collector');
    assert.equal(root.traceId, '00000000000000001f2e3d4c5b6a7988');
    assert.equal(root.parentSpanId, 'a1b2c3d4e5f60718');
    assert.equal(root.resource['service.name'], 'sygnal');
    assert.equal(otlp.named('pushkin_dispatch')[0]?.attributes['herald.platform'], 'noop');
    assert.deepEqual(sentry.events, [], 'no bug, no report');
  });
});
