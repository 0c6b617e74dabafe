import type { Gauge, Histogram } from 'prom-client';
import type { ConfigSection } from '../config/section';
import type { Metrics } from '../metrics/metrics';
import type { Device, Notification } from '../notification/types';
import type { Clock } from '../util/clock';
import type { Logger } from '../util/log';

/**
 * What became of one device. A rejection is a result, not an error: it tells the
 * homeserver to delete the pusher, so pushkins return it only when the platform says
 * the pushkey is dead or it can never be valid — never for our own misconfiguration.
 */
export type DispatchOutcome =
  /** The platform accepted the message. */
  | { readonly kind: 'delivered' }
  /** Nothing to send for this device (e.g. no alert and no badge); counts as success. */
  | { readonly kind: 'skipped'; readonly reason: string }
  /** The pushkey is dead or can never be valid: the homeserver should delete the pusher. */
  | { readonly kind: 'rejected'; readonly reason: string }
  /** A temporary failure: the homeserver should retry (after `retryAfterMs` if known). */
  | { readonly kind: 'retry'; readonly reason: string; readonly retryAfterMs?: number }
  /** Herald's own configuration is wrong (credentials, topic, sender id): never a rejection. */
  | { readonly kind: 'misconfigured'; readonly reason: string }
  /** This message cannot be sent (e.g. payload too large); the pushkey itself is fine. */
  | { readonly kind: 'failed'; readonly reason: string };

/** Per-device context handed to `dispatch`. */
export interface DispatchContext {
  /** Child logger carrying the request id, app_id, event_id and the pushkey's hash. */
  readonly log: Logger;
  /** Clock time (ms) by which the device must be answered; retries must not start past it. */
  readonly deadline: number;
  /** Aborted when the deadline passes. */
  readonly signal: AbortSignal;
  /** Present only when the request is traced (see src/observability). */
  readonly trace?: SendTrace;
}

/** What a send tells the device's trace span. */
export interface SendTrace {
  /** One attempt's answer from the platform: its HTTP status, or 0 for none (unreachable, timed out). */
  upstream(status: number): void;
  /** How long the device waited behind the app's inflight_request_limit. */
  queued(ms: number): void;
}

/** One configured app (`apps.<name>`): translates and sends notifications to one platform. */
export interface Pushkin {
  /** The `apps` key this pushkin serves (an app_id or a glob). */
  readonly name: string;
  readonly type: string;
  /** Sends one notification to one device. Must not throw for platform errors: return an outcome. */
  dispatch(notification: Notification, device: Device, ctx: DispatchContext): Promise<DispatchOutcome>;
  /** Releases connections and timers. */
  close(): Promise<void>;
  /** What was resolved when it was built and the configuration alone does not say (e.g. which credentials), for `herald check-config`. */
  describe?(): Promise<Record<string, string>>;
  /** Set by a pushkin sending through src/upstream: what the app's one queue (limit.ts) needs to front its sends. */
  readonly sends?: SendCapacity;
}

/** The sends a pushkin's connections carry at once, and Sygnal's series of the wait for one. */
export interface SendCapacity {
  /** Sends in flight at once; the app's queue admits no more, so none waits again in the connection pools. */
  readonly capacity: number;
  /** Sends waiting for a slot (sygnal_pending_*_requests). */
  readonly pending: Gauge;
  /** Each admitted send's wait, 0 when a slot was free (sygnal_*_queue_time). */
  readonly queueTime: Histogram;
}

/** What a pushkin is built with: its own logger and metrics, the clock, the outbound proxy. */
export interface PushkinEnv {
  readonly name: string;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly clock: Clock;
  /**
   * The HTTP CONNECT proxy URL to reach `target` (an upstream URL) through: the
   * configured `proxy` or HTTPS_PROXY, unless NO_PROXY exempts the host; undefined to
   * connect directly.
   */
  proxyFor(target: string): string | undefined;
}

/**
 * A platform: how its configuration is read and how its pushkin is built.
 * `readConfig` reports problems on the section (with key paths) and must not do network I/O,
 * so `herald check-config` can run it; `create` may do I/O.
 */
export interface PushkinType<C> {
  readonly type: string;
  readConfig(section: ConfigSection): C;
  create(config: C, env: PushkinEnv): Promise<Pushkin>;
  /** The settings worth showing an operator (platform, topic, project…), for `herald check-config`. */
  summary(config: C): Record<string, string>;
}
