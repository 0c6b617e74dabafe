import type { IncomingHttpHeaders } from 'node:http';
import type { DeviceResult } from '../dispatch/dispatcher';
import type { Device, Notification } from '../notification/types';
import type { SendTrace } from '../pushkins/pushkin';

/**
 * Where the HTTP and dispatch code tell tracing what happens. Absent when tracing is
 * off, so the request path pays one `undefined` check and loads nothing.
 */
export interface NotifyTracer {
  /** The trace of one notify request (its parent taken from the headers), or undefined when it is not sampled. */
  start(headers: IncomingHttpHeaders): NotifyTrace | undefined;
  /** Exports what is still queued, then stops. */
  close(): Promise<void>;
}

/** One notify request's server span. */
export interface NotifyTrace {
  /** The validated notification: its event id, whether it has content, its device count. */
  notification(notification: Notification): void;
  /** A child span for one device's send. */
  device(device: Device): DeviceTrace;
  /** The request is answered with `status`, or undefined when the caller went away first. */
  end(status: number | undefined, requestId: string): void;
}

/** One device's span: what the send reports, then its result. */
export interface DeviceTrace extends SendTrace {
  /** The app that serves the device and its platform (the pushkin type). */
  routed(app: string, platform: string): void;
  end(result: DeviceResult): void;
}

/** Herald's own bugs (500s, unexpected exceptions) reported to an error tracker. */
export interface ErrorReporter {
  /**
   * `secrets`: strings of the request (pushkeys, content) to strip from the report
   * should the error's message or stack quote them.
   */
  report(err: unknown, details: { readonly requestId?: string; readonly secrets?: readonly string[] }): void;
  close(): Promise<void>;
}
