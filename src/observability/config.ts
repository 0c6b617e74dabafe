import type { ConfigSection } from '../config/section';

/** `tracing`: OpenTelemetry traces exported over OTLP/HTTP. Present only when enabled. */
export interface TracingConfig {
  /** `service.name`; undefined: OTEL_SERVICE_NAME (or OTEL_RESOURCE_ATTRIBUTES), else `herald`. */
  readonly serviceName?: string;
  /** The OTLP/HTTP traces URL; undefined: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4318/v1/traces. */
  readonly tracesUrl?: string;
  /** Headers sent with each export (e.g. an API key); undefined: OTEL_EXPORTER_OTLP_(TRACES_)HEADERS. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Share of new traces recorded (a caller's sampled flag is followed); undefined: OTEL_TRACES_SAMPLER(_ARG), else 1. */
  readonly sampleRatio?: number;
}

/** `metrics.sentry` (Sygnal's section): Herald's own errors reported to a Sentry DSN. Present only when enabled. */
export interface SentryConfig {
  readonly dsn: string;
  readonly environment?: string;
}

export interface ObservabilityConfig {
  readonly tracing?: TracingConfig;
  readonly sentry?: SentryConfig;
}

/** Jaeger's collector port for OTLP over HTTP: Jaeger's agent ports (UDP 6831/6832) speak a protocol OTLP replaced. */
const JAEGER_OTLP_HTTP_PORT = 4318;

/**
 * Reads `tracing`, and Sygnal's `metrics.opentracing` and `metrics.sentry`, from the root
 * and `metrics` sections. Sygnal's Jaeger settings are mapped onto OpenTelemetry with a
 * warning naming what was carried over and what was not.
 */
export function readObservability(root: ConfigSection, metrics: ConfigSection, env: NodeJS.ProcessEnv = process.env): ObservabilityConfig {
  const own = readTracing(root);
  const sygnal = readOpentracing(metrics, env);
  let tracing = own;
  if (sygnal !== undefined) {
    if (own === undefined) {
      tracing = sygnal.tracing;
      metrics.warn('opentracing', sygnal.explained);
    } else metrics.warn('opentracing', 'ignored: the tracing section is set and takes precedence');
  }
  if (tracing !== undefined && /^true$/i.test(env.OTEL_SDK_DISABLED?.trim() ?? '')) {
    root.warn('tracing', 'OTEL_SDK_DISABLED=true in the environment: tracing is off');
    tracing = undefined;
  }
  const sentry = readSentry(metrics);
  return { ...(tracing !== undefined ? { tracing } : {}), ...(sentry !== undefined ? { sentry } : {}) };
}

function readTracing(root: ConfigSection): TracingConfig | undefined {
  const section = root.section('tracing');
  const enabled = section.boolean('enabled', { default: false });
  const serviceName = section.string('service_name');
  const endpoint = section.string('otlp_endpoint');
  const tracesUrl = endpoint !== undefined ? otlpTracesUrl(endpoint, section, 'otlp_endpoint') : undefined;
  const headers = readHeaders(section);
  const sampleRatio = readRatio(section, 'sample_ratio');
  section.finish();
  if (!enabled) return undefined;
  return {
    ...(serviceName !== undefined ? { serviceName } : {}),
    ...(tracesUrl !== undefined ? { tracesUrl } : {}),
    ...(headers !== undefined ? { headers } : {}),
    ...(sampleRatio !== undefined ? { sampleRatio } : {}),
  };
}

/**
 * The traces URL for `otlp_endpoint`, read as OTEL_EXPORTER_OTLP_ENDPOINT is: a base URL
 * to which `/v1/traces` is added (unless it already ends so).
 */
function otlpTracesUrl(value: string, section: ConfigSection, key: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    section.error(key, 'must be an http(s) URL such as http://127.0.0.1:4318');
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    section.error(key, `must be an http or https URL (OTLP over HTTP), not ${url.protocol}//`);
    return undefined;
  }
  if (url.pathname.endsWith('/v1/traces')) return url.href;
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/traces`;
  return url.href;
}

function readHeaders(section: ConfigSection): Record<string, string> | undefined {
  if (!section.has('headers')) {
    section.accept('headers');
    return undefined;
  }
  const headersSection = section.section('headers');
  const headers: Record<string, string> = {};
  for (const [name] of headersSection.entries()) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      headersSection.problems.error(headersSection.keyPath(name), 'is not a valid HTTP header name');
      continue;
    }
    const value = headersSection.string(name, { required: true });
    if (value !== undefined) headers[name] = value;
  }
  headersSection.finish();
  return headers;
}

function readRatio(section: ConfigSection, key: string): number | undefined {
  const value = section.rawValue(key);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    section.error(key, `must be a number from 0 to 1 (the share of traces recorded), got ${JSON.stringify(value)}`);
    return undefined;
  }
  return value;
}

/**
 * Sygnal's `metrics.opentracing` (jaeger-client's configuration) as OpenTelemetry
 * settings: `service_name` and a constant or probabilistic `jaeger.sampler` carry over;
 * `jaeger.local_agent.reporting_host` names the Jaeger host, whose OTLP/HTTP port is used.
 */
function readOpentracing(metrics: ConfigSection, env: NodeJS.ProcessEnv): { tracing: TracingConfig; explained: string } | undefined {
  const section = metrics.section('opentracing');
  const enabled = section.boolean('enabled', { default: false });
  const implementation = section.string('implementation');
  const serviceName = section.string('service_name');
  const jaeger = section.section('jaeger');
  const sampler = jaeger.section('sampler');
  const samplerType = sampler.string('type');
  const samplerParam = sampler.rawValue('param');
  const localAgent = jaeger.section('local_agent');
  const host = localAgent.string('reporting_host');
  const port = localAgent.rawValue('reporting_port');
  // What jaeger-client accepts beyond these has no OpenTelemetry counterpart here.
  const otherJaegerKeys = jaeger.entries().map(([key]) => key).filter((key) => key !== 'sampler' && key !== 'local_agent');
  jaeger.accept(...otherJaegerKeys);
  sampler.accept(...sampler.entries().map(([key]) => key));
  localAgent.accept(...localAgent.entries().map(([key]) => key));
  section.finish();
  if (!enabled) return undefined;
  if (implementation !== undefined && implementation !== 'jaeger') {
    section.error('implementation', `must be jaeger (the only implementation Sygnal supports), got ${JSON.stringify(implementation)}`);
    return undefined;
  }

  const mapped = ['enabled → tracing.enabled'];
  const notMapped: string[] = [];
  if (serviceName !== undefined) mapped.push(`service_name → tracing.service_name (${serviceName})`);
  let sampleRatio: number | undefined;
  if (samplerType !== undefined) {
    const param = typeof samplerParam === 'number' ? samplerParam : undefined;
    if (samplerType === 'const' && param !== undefined) sampleRatio = param ? 1 : 0;
    else if (samplerType === 'probabilistic' && param !== undefined && param >= 0 && param <= 1) sampleRatio = param;
    if (sampleRatio !== undefined) mapped.push(`jaeger.sampler (${samplerType} ${String(param)}) → tracing.sample_ratio ${sampleRatio}`);
    else notMapped.push(`jaeger.sampler (${samplerType}: only const and probabilistic have an OpenTelemetry counterpart; every trace is recorded)`);
  }
  let tracesUrl: string | undefined;
  const envEndpoint = ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT'].find((name) => env[name]?.trim());
  if (envEndpoint !== undefined) {
    // The operator's explicit OTLP endpoint beats one guessed from the Jaeger agent's host.
    if (host !== undefined) notMapped.push(`jaeger.local_agent.reporting_host (${envEndpoint} in the environment names the collector)`);
  } else if (host !== undefined) {
    tracesUrl = otlpTracesUrl(`http://${host.includes(':') ? `[${host}]` : host}:${JAEGER_OTLP_HTTP_PORT}`, localAgent, 'reporting_host');
    if (tracesUrl !== undefined) mapped.push(`jaeger.local_agent.reporting_host → tracing.otlp_endpoint ${tracesUrl} (Jaeger's OTLP/HTTP port)`);
  }
  if (port !== undefined) notMapped.push(`jaeger.local_agent.reporting_port (${String(port)}: Jaeger's agent protocol; traces go to port ${JAEGER_OTLP_HTTP_PORT} over OTLP)`);
  const ignoredLocalAgent = localAgent.entries().map(([key]) => key).filter((key) => key !== 'reporting_host' && key !== 'reporting_port');
  for (const key of [...otherJaegerKeys.map((k) => `jaeger.${k}`), ...ignoredLocalAgent.map((k) => `jaeger.local_agent.${k}`)]) notMapped.push(key);
  const explained =
    `Sygnal's OpenTracing (Jaeger) settings are used for OpenTelemetry tracing over OTLP: mapped ${mapped.join('; ')}` +
    (notMapped.length > 0 ? `; not mapped: ${notMapped.join('; ')}` : '') +
    '. Prefer the tracing section (see docs/observability.md)';
  const tracing = {
    ...(serviceName !== undefined ? { serviceName } : {}),
    ...(tracesUrl !== undefined ? { tracesUrl } : {}),
    ...(sampleRatio !== undefined ? { sampleRatio } : {}),
  };
  return { tracing, explained };
}

/** Sygnal's `metrics.sentry: {enabled, dsn}`, plus an optional `environment`. */
function readSentry(metrics: ConfigSection): SentryConfig | undefined {
  const section = metrics.section('sentry');
  const enabled = section.boolean('enabled', { default: false });
  const dsn = section.string('dsn', enabled ? { required: true } : {});
  const environment = section.string('environment');
  section.finish();
  if (!enabled || dsn === undefined) return undefined;
  const problem = dsnProblem(dsn);
  if (problem !== undefined) {
    section.error('dsn', problem);
    return undefined;
  }
  return { dsn, ...(environment !== undefined ? { environment } : {}) };
}

/** Why `dsn` is not a Sentry DSN (https://PUBLIC_KEY@HOST/PROJECT_ID), or undefined. Never quotes it: the key is a secret. */
function dsnProblem(dsn: string): string | undefined {
  let url: URL;
  try {
    url = new URL(dsn);
  } catch {
    return 'must be a Sentry DSN such as https://PUBLIC_KEY@o0.ingest.sentry.io/PROJECT_ID';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `must be an http or https URL, not ${url.protocol}//`;
  if (!url.username) return 'must carry the public key before the host (https://PUBLIC_KEY@host/PROJECT_ID)';
  if (!/\/\d+$|\/[A-Za-z0-9_-]+$/.test(url.pathname)) return 'must end with the project id (https://PUBLIC_KEY@host/PROJECT_ID)';
  return undefined;
}
