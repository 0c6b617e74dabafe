import * as Sentry from '@sentry/node';
import type { Logger } from '../util/log';
import { VERSION } from '../version';
import type { SentryConfig } from './config';
import type { ErrorReporter } from './hooks';
import { redactStrings } from './scrub';

/** How long shutdown waits for reports still being sent. */
const CLOSE_TIMEOUT_MS = 2_000;

/**
 * Herald's own bugs reported with the Sentry SDK: 500 answers, pushkins and dispatch
 * failing unexpectedly, and uncaught exceptions and unhandled rejections (reported, then
 * the process ends as Node would end it). Only the error, its stack and the request id
 * leave: no request body, headers, breadcrumbs or local variables, and any string of the
 * request (pushkeys, content) quoted in a message or stack is redacted before sending.
 */
export class SentryErrorReporter implements ErrorReporter {
  constructor(config: SentryConfig, log: Logger) {
    Sentry.initWithoutDefaultIntegrations({
      dsn: config.dsn,
      release: `herald@${VERSION}`,
      ...(config.environment !== undefined ? { environment: config.environment } : {}),
      integrations: [Sentry.onUncaughtExceptionIntegration(), Sentry.onUnhandledRejectionIntegration({ mode: 'strict' })],
      dataCollection: { userInfo: false, cookies: false, httpHeaders: false, httpBodies: [], urlQueryParams: false },
      includeLocalVariables: false,
      maxBreadcrumbs: 0,
      // Herald's tracing is OpenTelemetry's (see otel.ts); Sentry sends errors only.
      enableOpenTelemetrySetup: false,
      enableRuntimeChannelInjection: false,
      beforeSend: (event) => {
        delete event.request;
        delete event.user;
        delete event.breadcrumbs;
        delete event.extra;
        return redactStrings(event, []);
      },
    });
    log.info('error reports go to Sentry (metrics.sentry)');
  }

  report(err: unknown, details: { readonly requestId?: string; readonly secrets?: readonly string[] }): void {
    const secrets = details.secrets ?? [];
    Sentry.withScope((scope) => {
      if (details.requestId !== undefined) scope.setTag('request_id', details.requestId);
      scope.addEventProcessor((event) => redactStrings(event, secrets));
      Sentry.captureException(err);
    });
  }

  async close(): Promise<void> {
    await Sentry.close(CLOSE_TIMEOUT_MS);
  }
}
