import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { ConfigProblems, ConfigSection } from '../../../src/config/section';
import { readObservability, type ObservabilityConfig } from '../../../src/observability/config';

/** Reads the observability settings of a YAML document, as validateConfig does. */
function read(yaml: string, env: NodeJS.ProcessEnv = {}): { config: ObservabilityConfig; errors: string[]; warnings: string[] } {
  const problems = new ConfigProblems();
  const root = ConfigSection.root(parse(yaml), problems, '/nonexistent-dir');
  const config = readObservability(root, root.section('metrics'), env);
  return { config, errors: problems.errors, warnings: problems.warnings };
}

const SYGNAL_JAEGER = `
metrics:
  opentracing:
    enabled: true
    implementation: jaeger
    service_name: sygnal
    jaeger:
      sampler: {type: const, param: 1}
      logging: true
      local_agent: {reporting_host: jaeger.internal, reporting_port: 6831}
`;

describe('observability/config', () => {
  it('is off unless enabled', () => {
    assert.deepEqual(read('tracing: {otlp_endpoint: "http://x:4318"}\nmetrics: {sentry: {enabled: false, dsn: nonsense}}').config, {});
  });

  const tracingCases: Array<[string, string, ObservabilityConfig['tracing']]> = [
    ['defaults left to the OTEL_* variables', '{enabled: true}', {}],
    [
      'every key; the endpoint is a base URL, as OTEL_EXPORTER_OTLP_ENDPOINT',
      '{enabled: true, service_name: push, otlp_endpoint: "https://otlp.example:4318", headers: {authorization: "Bearer t"}, sample_ratio: 0.1}',
      { serviceName: 'push', tracesUrl: 'https://otlp.example:4318/v1/traces', headers: { authorization: 'Bearer t' }, sampleRatio: 0.1 },
    ],
    ['a path already ending in /v1/traces is kept', '{enabled: true, otlp_endpoint: "http://c:4318/otlp/v1/traces"}', { tracesUrl: 'http://c:4318/otlp/v1/traces' }],
    ['a base path is kept before /v1/traces', '{enabled: true, otlp_endpoint: "http://c:4318/otlp/"}', { tracesUrl: 'http://c:4318/otlp/v1/traces' }],
    ['a whole-number ratio', '{enabled: true, sample_ratio: 0}', { sampleRatio: 0 }],
  ];
  for (const [name, section, expected] of tracingCases) {
    it(`reads tracing: ${name}`, () => {
      const { config, errors, warnings } = read(`tracing: ${section}`);
      assert.deepEqual(errors, []);
      assert.deepEqual(warnings, []);
      assert.deepEqual(config.tracing, expected);
    });
  }

  const errorCases: Array<[string, string]> = [
    ['tracing: {enabled: true, otlp_endpoint: "not a url"}', 'tracing.otlp_endpoint: must be an http(s) URL such as http://127.0.0.1:4318'],
    ['tracing: {enabled: true, otlp_endpoint: "grpc://c:4317"}', 'tracing.otlp_endpoint: must be an http or https URL (OTLP over HTTP), not grpc://'],
    ['tracing: {enabled: true, sample_ratio: 1.5}', 'tracing.sample_ratio: must be a number from 0 to 1 (the share of traces recorded), got 1.5'],
    ['tracing: {enabled: true, sample_ratio: "all"}', 'tracing.sample_ratio: must be a number from 0 to 1 (the share of traces recorded), got "all"'],
    ['tracing: {enabled: true, headers: {"bad header": x}}', 'tracing.headers."bad header": is not a valid HTTP header name'],
    ['tracing: {enabled: true, headers: {x-key: [a]}}', 'tracing.headers.x-key: must be a string, got a list'],
    ['tracing: {enabled: yes-please}', 'tracing.enabled: must be true or false, got string "yes-please"'],
    ['metrics: {opentracing: {enabled: true, implementation: zipkin}}', 'metrics.opentracing.implementation: must be jaeger (the only implementation Sygnal supports), got "zipkin"'],
    ['metrics: {sentry: {enabled: true}}', 'metrics.sentry.dsn: required (a string)'],
    ['metrics: {sentry: {enabled: true, dsn: "https://sentry.example/1"}}', 'metrics.sentry.dsn: must carry the public key before the host (https://PUBLIC_KEY@host/PROJECT_ID)'],
    ['metrics: {sentry: {enabled: true, dsn: "secret-key"}}', 'metrics.sentry.dsn: must be a Sentry DSN such as https://PUBLIC_KEY@o0.ingest.sentry.io/PROJECT_ID'],
  ];
  for (const [yaml, expected] of errorCases) {
    it(`refuses ${yaml}`, () => {
      assert.deepEqual(read(yaml).errors, [expected]);
    });
  }

  it("maps Sygnal's metrics.opentracing (Jaeger) onto OTLP, saying what was and was not mapped", () => {
    const { config, errors, warnings } = read(SYGNAL_JAEGER);
    assert.deepEqual(errors, []);
    assert.deepEqual(config.tracing, { serviceName: 'sygnal', tracesUrl: 'http://jaeger.internal:4318/v1/traces', sampleRatio: 1 });
    assert.equal(warnings.length, 1);
    const [warning] = warnings as [string];
    assert.match(warning, /^metrics\.opentracing: Sygnal's OpenTracing \(Jaeger\) settings are used for OpenTelemetry tracing over OTLP: mapped /);
    assert.match(warning, /service_name → tracing\.service_name \(sygnal\)/);
    assert.match(warning, /jaeger\.sampler \(const 1\) → tracing\.sample_ratio 1/);
    assert.match(warning, /jaeger\.local_agent\.reporting_host → tracing\.otlp_endpoint http:\/\/jaeger\.internal:4318\/v1\/traces/);
    assert.match(warning, /not mapped: jaeger\.local_agent\.reporting_port \(6831/);
    assert.match(warning, /jaeger\.logging/);
  });

  it("maps a probabilistic Jaeger sampler to the ratio, and leaves other samplers' ratio unset", () => {
    assert.equal(read(SYGNAL_JAEGER.replace('{type: const, param: 1}', '{type: probabilistic, param: 0.25}')).config.tracing?.sampleRatio, 0.25);
    const remote = read(SYGNAL_JAEGER.replace('{type: const, param: 1}', '{type: remote, param: 1}'));
    assert.equal(remote.config.tracing?.sampleRatio, undefined);
    assert.match(remote.warnings[0] ?? '', /not mapped: jaeger\.sampler \(remote/);
  });

  it('lets OTEL_EXPORTER_OTLP_ENDPOINT name the collector rather than the Jaeger agent host', () => {
    const { config, warnings } = read(SYGNAL_JAEGER, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' });
    assert.equal(config.tracing?.tracesUrl, undefined);
    assert.match(warnings[0] ?? '', /jaeger\.local_agent\.reporting_host \(OTEL_EXPORTER_OTLP_ENDPOINT in the environment names the collector\)/);
  });

  it('ignores a disabled opentracing section, as Sygnal does', () => {
    assert.deepEqual(read('metrics: {opentracing: {enabled: false, implementation: jaeger, service_name: s, jaeger: {logging: true}}}'), {
      config: {},
      errors: [],
      warnings: [],
    });
  });

  it('prefers the tracing section to metrics.opentracing', () => {
    const { config, warnings } = read(`tracing: {enabled: true, service_name: own}\n${SYGNAL_JAEGER}`);
    assert.deepEqual(config.tracing, { serviceName: 'own' });
    assert.deepEqual(warnings, ['metrics.opentracing: ignored: the tracing section is set and takes precedence']);
  });

  it('turns tracing off when OTEL_SDK_DISABLED=true', () => {
    const { config, warnings } = read('tracing: {enabled: true}', { OTEL_SDK_DISABLED: 'true' });
    assert.equal(config.tracing, undefined);
    assert.deepEqual(warnings, ['tracing: OTEL_SDK_DISABLED=true in the environment: tracing is off']);
  });

  it("reads Sygnal's metrics.sentry unchanged", () => {
    const { config, errors } = read('metrics: {sentry: {enabled: true, dsn: "https://abc123@o1.ingest.sentry.io/42"}}');
    assert.deepEqual(errors, []);
    assert.deepEqual(config.sentry, { dsn: 'https://abc123@o1.ingest.sentry.io/42' });
  });
});
