import type { IncomingHttpHeaders } from 'node:http';
import {
  defaultTextMapGetter,
  diag,
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { CompositePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { JaegerPropagator } from '@opentelemetry/propagator-jaeger';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
} from '@opentelemetry/semantic-conventions';
import type { DeviceResult } from '../dispatch/dispatcher';
import type { Device, Notification } from '../notification/types';
import { errorText } from '../util/error-text';
import type { Logger } from '../util/log';
import { VERSION } from '../version';
import type { TracingConfig } from './config';
import type { DeviceTrace, NotifyTrace, NotifyTracer } from './hooks';
import { spanReason } from './scrub';
import { ThrottledWarning } from './throttled-log';

/** Sygnal's name for the notify request's span, kept so existing dashboards find it. */
export const NOTIFY_SPAN = 'pushgateway_v1_notify';
export const DEVICE_SPAN = 'pushkin_dispatch';
const NOTIFY_ROUTE = '/_matrix/push/v1/notify';
/** At most one line a minute about spans that could not be exported. */
const EXPORT_WARNING_INTERVAL_MS = 60_000;
const CLOSE_TIMEOUT_MS = 3_000;

/**
 * Tracing with the OpenTelemetry SDK: spans batched in a bounded queue (the
 * BatchSpanProcessor's, 2048 spans unless OTEL_BSP_MAX_QUEUE_SIZE says otherwise) and
 * exported over OTLP/HTTP in the background; a request never waits for an export.
 * The caller's context is read from W3C `traceparent`/`tracestate` or Jaeger's
 * `uber-trace-id` (what Synapse's OpenTracing sends). Nothing is registered globally
 * except the diagnostic logger, so other OpenTelemetry users in the process are untouched.
 */
export class OtelNotifyTracer implements NotifyTracer {
  private readonly provider: BasicTracerProvider;
  private readonly tracer: Tracer;
  // uber-trace-id first: when a caller sends both, the W3C context (extracted last) wins.
  private readonly propagator = new CompositePropagator({ propagators: [new JaegerPropagator(), new W3CTraceContextPropagator()] });

  private readonly warning: ThrottledWarning;

  constructor(config: TracingConfig, log: Logger) {
    const warning = new ThrottledWarning(log, EXPORT_WARNING_INTERVAL_MS);
    this.warning = warning;
    // The SDK reports failed exports and dropped spans through its diagnostic logger.
    diag.setLogger(
      {
        error: (message) => warning.warn(`tracing: ${message} (spans are being lost; is the OTLP collector reachable?)`),
        warn: (message) => warning.warn(`tracing: ${message}`),
        info: () => {},
        debug: () => {},
        verbose: () => {},
      },
      { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
    );
    const resource = defaultResource()
      .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'herald', [ATTR_SERVICE_VERSION]: VERSION }))
      .merge(detectResources({ detectors: [envDetector] }))
      .merge(config.serviceName !== undefined ? resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.serviceName }) : null);
    const exporter = new OTLPTraceExporter({
      ...(config.tracesUrl !== undefined ? { url: config.tracesUrl } : {}),
      ...(config.headers !== undefined ? { headers: { ...config.headers } } : {}),
      timeoutMillis: 10_000,
    });
    this.provider = new BasicTracerProvider({
      resource,
      // Without sample_ratio the SDK reads OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG.
      ...(config.sampleRatio !== undefined
        ? { sampler: new ParentBasedSampler({ root: config.sampleRatio === 1 ? new AlwaysOnSampler() : new TraceIdRatioBasedSampler(config.sampleRatio) }) }
        : {}),
      spanProcessors: [new BatchSpanProcessor(exporter, { exportTimeoutMillis: 10_000 })],
    });
    this.tracer = this.provider.getTracer('herald', VERSION);
  }

  start(headers: IncomingHttpHeaders): NotifyTrace | undefined {
    const parent = this.propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
    const span = this.tracer.startSpan(
      NOTIFY_SPAN,
      { kind: SpanKind.SERVER, attributes: { [ATTR_HTTP_REQUEST_METHOD]: 'POST', [ATTR_HTTP_ROUTE]: NOTIFY_ROUTE } },
      parent,
    );
    // Not sampled: nothing is recorded, so the request goes on as if tracing were off.
    if (!span.isRecording()) return undefined;
    return new OtelNotifyTrace(this.tracer, span);
  }

  /** Exports what is queued, waiting at most CLOSE_TIMEOUT_MS: a collector that is down must not hold up a shutdown. */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), CLOSE_TIMEOUT_MS)));
    // The last export's failure comes back here rather than through the diagnostic logger.
    const outcome = await Promise.race([this.provider.shutdown().then(() => 'done' as const, (err: unknown) => err), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') this.warning.warn(`tracing: the last spans were not exported within ${CLOSE_TIMEOUT_MS} ms of shutting down; is the OTLP collector reachable?`);
    else if (outcome !== 'done') this.warning.warn(`tracing: the last spans could not be exported: ${errorText(outcome)}`);
    diag.disable();
  }
}

class OtelNotifyTrace implements NotifyTrace {
  /** The parent of the device spans, made once per request. */
  private context?: Context;

  constructor(
    private readonly tracer: Tracer,
    private readonly span: Span,
  ) {}

  notification(notification: Notification): void {
    const attributes: Attributes = {
      has_content: notification.content !== undefined,
      'herald.device_count': notification.devices.length,
    };
    if (notification.event_id !== undefined) attributes.event_id = notification.event_id;
    this.span.setAttributes(attributes);
  }

  device(device: Device): DeviceTrace {
    const span = this.tracer.startSpan(
      DEVICE_SPAN,
      { kind: SpanKind.INTERNAL, attributes: { 'herald.app_id': device.app_id } },
      (this.context ??= trace.setSpan(ROOT_CONTEXT, this.span)),
    );
    return new OtelDeviceTrace(span);
  }

  end(status: number | undefined, requestId: string): void {
    this.span.setAttribute('request_id', requestId);
    if (status === undefined) this.span.setStatus({ code: SpanStatusCode.ERROR, message: 'the caller closed the connection first' });
    else {
      this.span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      if (status >= 500) this.span.setStatus({ code: SpanStatusCode.ERROR, message: `answered ${status}` });
    }
    this.span.end();
  }
}

class OtelDeviceTrace implements DeviceTrace {
  private attempts = 0;
  private ended = false;

  constructor(private readonly span: Span) {}

  routed(app: string, platform: string): void {
    this.span.setAttributes({ 'herald.app': app, 'herald.platform': platform });
  }

  upstream(status: number): void {
    this.attempts++;
    if (status > 0) this.span.setAttribute('herald.upstream.status_code', status);
  }

  queued(ms: number): void {
    this.span.setAttribute('herald.inflight.queued_ms', ms);
  }

  end(result: DeviceResult): void {
    // A device answered at the deadline may still settle later; its span ends once.
    if (this.ended) return;
    this.ended = true;
    const { outcome } = result;
    const attributes: Attributes = { 'herald.outcome': outcome.kind, 'herald.attempts': this.attempts };
    if ('reason' in outcome) attributes['herald.outcome.reason'] = spanReason(outcome.reason);
    if (outcome.kind === 'retry' && outcome.retryAfterMs !== undefined) attributes['herald.retry_after_ms'] = Math.ceil(outcome.retryAfterMs);
    this.span.setAttributes(attributes);
    if (outcome.kind === 'retry' || outcome.kind === 'failed' || outcome.kind === 'misconfigured') {
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.kind });
    }
    this.span.end();
  }
}
