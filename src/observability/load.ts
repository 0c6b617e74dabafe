import type { Logger } from '../util/log';
import type { ObservabilityConfig } from './config';
import type { ErrorReporter, NotifyTracer } from './hooks';

export interface Observability {
  readonly tracer?: NotifyTracer;
  readonly errors?: ErrorReporter;
}

/**
 * The tracer and error reporter the configuration enables. Their SDKs are required here,
 * only when enabled: OpenTelemetry and Sentry weigh tens of megabytes, and a gateway
 * without them must not load a byte of either.
 */
export function loadObservability(config: ObservabilityConfig, log: Logger): Observability {
  /* eslint-disable @typescript-eslint/no-require-imports -- on-demand loads, see above */
  const tracer = config.tracing !== undefined ? new (require('./otel') as typeof import('./otel')).OtelNotifyTracer(config.tracing, log) : undefined;
  const errors = config.sentry !== undefined ? new (require('./sentry') as typeof import('./sentry')).SentryErrorReporter(config.sentry, log) : undefined;
  /* eslint-enable @typescript-eslint/no-require-imports */
  return { ...(tracer !== undefined ? { tracer } : {}), ...(errors !== undefined ? { errors } : {}) };
}

/** Sends what is still queued and stops; never throws (shutdown goes on regardless). */
export async function closeObservability(observability: Observability, log: Logger): Promise<void> {
  await Promise.all(
    [observability.tracer, observability.errors].map((part) =>
      part?.close().catch((err: unknown) => log.warn({ err }, 'error while flushing traces or error reports')),
    ),
  );
}
