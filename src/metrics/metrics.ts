import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

type CounterChild = ReturnType<Counter<string>['labels']>;
type GaugeChild = ReturnType<Gauge<string>['labels']>;

/**
 * prometheus_client's default buckets, which Sygnal's histograms use: its dashboard's
 * heatmaps and quantiles are drawn from exactly these bounds (prometheus_client's `Histogram.DEFAULT_BUCKETS`).
 */
export const SYGNAL_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** Sygnal's value of the `resource` label of sygnal_requests_in_flight: its notify handler. */
export const NOTIFY_RESOURCE = 'V1NotifyHandler';

/**
 * One app's children of a counter by upstream status code, each looked up once: prom-client
 * hashes the labels on every labels(), a cost on the send path. Status codes are few.
 */
export function statusCounters(counter: Counter<'pushkin' | 'code'>, pushkin: string): (status: number) => CounterChild {
  const children = new Map<number, CounterChild>();
  return (status) => {
    let child = children.get(status);
    if (!child) children.set(status, (child = counter.labels(pushkin, String(status))));
    return child;
  };
}

/** One app's labelled counters, looked up once: label look-ups are a cost on the notify path. */
export interface AppMetrics {
  /** sygnal_per_pushkin_type_total: labelled with the app's name, as Sygnal does. */
  readonly routed: CounterChild;
  readonly deduplicated: CounterChild;
  readonly rejectedFromMemory: CounterChild;
  readonly deadlineExceeded: CounterChild;
  outcome(kind: string): CounterChild;
}

/**
 * Every metric Herald exports, built on one registry. Sygnal's metrics keep Sygnal's
 * names, labels and buckets exactly (`sygnal/http.py`, `sygnal/*pushkin.py`) so its Grafana dashboard and
 * existing alerts keep working; Herald's own metrics are named `herald_*`, so nobody
 * mistakes them for Sygnal's. Labels are the configured app (`pushkin`: the `apps` key,
 * never an app_id taken from a request) and upstream status codes only.
 */
export class Metrics {
  readonly registry: Registry;

  // Gateway (Sygnal names)
  readonly notificationsReceived: Counter;
  readonly devicesReceived: Counter;
  readonly perPushkinType: Counter<'pushkin'>;
  readonly statusCodes: Counter<'code'>;
  readonly notifyTime: Histogram<'code'>;
  /** sygnal_requests_in_flight{resource="V1NotifyHandler"}. */
  readonly requestsInFlight: GaugeChild;
  readonly inflightLimitDrop: Counter<'pushkin'>;

  // APNs (Sygnal names)
  readonly apnsRequestTime: Histogram;
  readonly activeApnsRequests: Gauge;
  readonly apnsStatusCodes: Counter<'pushkin' | 'code'>;
  readonly clientCertExpiry: Gauge<'pushkin'>;

  // FCM (Sygnal names)
  readonly gcmRequestTime: Histogram;
  readonly gcmQueueTime: Histogram;
  readonly pendingGcmRequests: Gauge;
  readonly activeGcmRequests: Gauge;
  readonly gcmStatusCodes: Counter<'pushkin' | 'code'>;
  readonly fcmTokenErrors: Counter<'pushkin' | 'reason'>;

  // Web Push (Sygnal names, then Herald's own)
  readonly webpushQueueTime: Histogram;
  readonly webpushRequestTime: Histogram;
  readonly pendingWebpushRequests: Gauge;
  readonly activeWebpushRequests: Gauge;
  readonly webpushStatusCodes: Counter<'pushkin' | 'code'>;
  readonly webpushEndpointsRefused: Counter<'pushkin' | 'reason'>;

  // UnifiedPush (Herald's own: Sygnal has no UnifiedPush pushkin), named as the Web Push series
  readonly unifiedpushQueueTime: Histogram;
  readonly unifiedpushRequestTime: Histogram;
  readonly pendingUnifiedpushRequests: Gauge;
  readonly activeUnifiedpushRequests: Gauge;
  readonly unifiedpushStatusCodes: Counter<'pushkin' | 'code'>;
  readonly unifiedpushEndpointsRefused: Counter<'pushkin' | 'reason'>;

  // Herald's own
  readonly outcomes: Counter<'pushkin' | 'outcome'>;
  readonly deduplicated: Counter<'pushkin'>;
  readonly rejectedFromMemory: Counter<'pushkin'>;
  readonly unroutable: Counter<'reason'>;
  readonly configurationErrors: Counter<'pushkin' | 'reason'>;
  readonly retries: Counter<'pushkin'>;
  readonly deadlineExceeded: Counter<'pushkin'>;
  readonly protocolErrors: Counter<'code'>;
  readonly connectionsDropped: Counter;
  readonly callersRefused: Counter<'reason'>;
  readonly storeErrors: Counter<'operation'>;

  // Herald's own, named herald_*: waiting for a slot under inflight_request_limit
  readonly inflightQueuedDevices: Gauge<'pushkin'>;
  readonly inflightQueueTime: Histogram<'pushkin'>;

  constructor(options: { registry?: Registry; defaultMetrics?: boolean } = {}) {
    this.registry = options.registry ?? new Registry();
    const registers = [this.registry];
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });

    this.notificationsReceived = new Counter({
      name: 'sygnal_notifications_received_total',
      help: 'Number of notification requests received',
      registers,
    });
    this.devicesReceived = new Counter({
      name: 'sygnal_notifications_devices_received_total',
      help: 'Number of devices received in notification requests',
      registers,
    });
    this.perPushkinType = new Counter({
      name: 'sygnal_per_pushkin_type_total',
      help: 'Number of devices dispatched to each app',
      labelNames: ['pushkin'],
      registers,
    });
    this.statusCodes = new Counter({
      name: 'sygnal_pushgateway_status_codes_total',
      help: 'HTTP status codes answered on the notify endpoint',
      labelNames: ['code'],
      registers,
    });
    this.notifyTime = new Histogram({
      name: 'sygnal_notify_time',
      help: 'Time taken to answer a notify request, in seconds',
      labelNames: ['code'],
      buckets: [...SYGNAL_BUCKETS],
      registers,
    });
    this.requestsInFlight = new Gauge({
      name: 'sygnal_requests_in_flight',
      help: 'Notify requests being processed',
      labelNames: ['resource'],
      registers,
    }).labels(NOTIFY_RESOURCE);
    this.requestsInFlight.set(0);
    this.inflightLimitDrop = new Counter({
      name: 'sygnal_inflight_request_limit_drop_total',
      help: 'Devices not sent because the app was at its inflight_request_limit',
      labelNames: ['pushkin'],
      registers,
    });

    this.apnsRequestTime = new Histogram({
      name: 'sygnal_apns_request_time',
      help: 'Time taken by one request to APNs, in seconds',
      buckets: [...SYGNAL_BUCKETS],
      registers,
    });
    this.activeApnsRequests = new Gauge({
      name: 'sygnal_active_apns_requests',
      help: 'Requests to APNs in flight',
      registers,
    });
    this.apnsStatusCodes = new Counter({
      name: 'sygnal_apns_status_codes_total',
      help: 'Status codes answered by APNs (0: no answer: timeout or connection error)',
      labelNames: ['pushkin', 'code'],
      registers,
    });
    this.clientCertExpiry = new Gauge({
      name: 'sygnal_client_cert_expiry',
      help: 'Expiry time of the APNs client certificate, in seconds since the epoch',
      labelNames: ['pushkin'],
      registers,
    });

    this.gcmRequestTime = new Histogram({
      name: 'sygnal_gcm_request_time',
      help: 'Time taken by one request to FCM, in seconds',
      buckets: [...SYGNAL_BUCKETS],
      registers,
    });
    this.gcmQueueTime = new Histogram({
      name: 'sygnal_gcm_queue_time',
      help: 'Time a message waited for a free FCM connection, in seconds',
      buckets: [...SYGNAL_BUCKETS],
      registers,
    });
    this.pendingGcmRequests = new Gauge({
      name: 'sygnal_pending_gcm_requests',
      help: 'Messages waiting for a free FCM connection',
      registers,
    });
    this.activeGcmRequests = new Gauge({
      name: 'sygnal_active_gcm_requests',
      help: 'Requests to FCM in flight',
      registers,
    });
    this.gcmStatusCodes = new Counter({
      name: 'sygnal_gcm_status_codes_total',
      help: 'Status codes answered by FCM (0: no answer: timeout or connection error)',
      labelNames: ['pushkin', 'code'],
      registers,
    });

    this.webpushQueueTime = new Histogram({
      name: 'sygnal_webpush_queue_time',
      help: 'Time a Web Push message waited for a free connection, in seconds',
      buckets: [...SYGNAL_BUCKETS],
      registers,
    });
    this.webpushRequestTime = new Histogram({
      name: 'sygnal_webpush_request_time',
      help: 'Time taken by one request to a Web Push service, in seconds',
      buckets: [...SYGNAL_BUCKETS],
      registers,
    });
    this.pendingWebpushRequests = new Gauge({
      name: 'sygnal_pending_webpush_requests',
      help: 'Web Push messages waiting for a free connection',
      registers,
    });
    this.activeWebpushRequests = new Gauge({
      name: 'sygnal_active_webpush_requests',
      help: 'Requests to Web Push services in flight',
      registers,
    });
    this.webpushStatusCodes = new Counter({
      name: 'herald_webpush_status_codes_total',
      help: 'Status codes answered by Web Push services (0: no answer: timeout or connection error)',
      labelNames: ['pushkin', 'code'],
      registers,
    });
    this.webpushEndpointsRefused = new Counter({
      name: 'herald_webpush_endpoints_refused_total',
      help: 'Web Push devices not sent because their endpoint is outside allowed_endpoints (not_allowed) or not a public address (private_address)',
      labelNames: ['pushkin', 'reason'],
      registers,
    });

    this.unifiedpushQueueTime = new Histogram({
      name: 'herald_unifiedpush_queue_time_seconds',
      help: 'Time a UnifiedPush message waited for a free slot, in seconds',
      buckets: [...SYGNAL_BUCKETS],
      registers,
    });
    this.unifiedpushRequestTime = new Histogram({
      name: 'herald_unifiedpush_request_time_seconds',
      help: 'Time taken by one request to a UnifiedPush distributor, in seconds',
      buckets: [...SYGNAL_BUCKETS],
      registers,
    });
    this.pendingUnifiedpushRequests = new Gauge({
      name: 'herald_pending_unifiedpush_requests',
      help: 'UnifiedPush messages waiting for a free slot',
      registers,
    });
    this.activeUnifiedpushRequests = new Gauge({
      name: 'herald_active_unifiedpush_requests',
      help: 'Requests to UnifiedPush distributors in flight',
      registers,
    });
    this.unifiedpushStatusCodes = new Counter({
      name: 'herald_unifiedpush_status_codes_total',
      help: 'Status codes answered by UnifiedPush distributors (0: no answer: timeout or connection error)',
      labelNames: ['pushkin', 'code'],
      registers,
    });
    this.unifiedpushEndpointsRefused = new Counter({
      name: 'herald_unifiedpush_endpoints_refused_total',
      help: 'UnifiedPush devices not sent: endpoint outside allowed_endpoints (not_allowed), not a public address (private_address), no such host or a failed TLS handshake (unreachable)',
      labelNames: ['pushkin', 'reason'],
      registers,
    });

    this.outcomes = new Counter({
      name: 'herald_device_outcomes_total',
      help: 'Devices by outcome: delivered, skipped, rejected, retry, misconfigured, failed',
      labelNames: ['pushkin', 'outcome'],
      registers,
    });
    this.deduplicated = new Counter({
      name: 'herald_deduplicated_total',
      help: 'Devices not notified again because the same event was already delivered to them',
      labelNames: ['pushkin'],
      registers,
    });
    this.rejectedFromMemory = new Counter({
      name: 'herald_rejected_from_memory_total',
      help: 'Pushkeys rejected because an earlier request found them dead',
      labelNames: ['pushkin'],
      registers,
    });
    this.unroutable = new Counter({
      name: 'herald_unroutable_pushkeys_total',
      help: 'Devices whose app_id matched no app (unknown) or several globs (ambiguous): rejected, or answered 502 with unknown_app_id: retry',
      labelNames: ['reason'],
      registers,
    });
    this.configurationErrors = new Counter({
      name: 'herald_configuration_errors_total',
      help: 'Sends that failed because of Herald\'s own configuration (credentials, topic, sender id)',
      labelNames: ['pushkin', 'reason'],
      registers,
    });
    this.retries = new Counter({
      name: 'herald_upstream_retries_total',
      help: 'Requests to a platform that were retried after a temporary failure',
      labelNames: ['pushkin'],
      registers,
    });
    this.deadlineExceeded = new Counter({
      name: 'herald_upstream_deadline_exceeded_total',
      help: 'Devices given up on because the per-request deadline passed',
      labelNames: ['pushkin'],
      registers,
    });

    this.inflightQueuedDevices = new Gauge({
      name: 'herald_inflight_queued_devices',
      help: 'Devices waiting for a free slot under their app\'s inflight_request_limit',
      labelNames: ['pushkin'],
      registers,
    });
    this.inflightQueueTime = new Histogram({
      name: 'herald_inflight_queue_time_seconds',
      help: 'Time devices that found their app at its inflight_request_limit waited for a slot (or their deadline), in seconds',
      labelNames: ['pushkin'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20],
      registers,
    });
    this.protocolErrors = new Counter({
      name: 'herald_http_protocol_errors_total',
      help: "Requests answered before reaching Herald's handlers: malformed HTTP (400, 431), too slow (408), unknown Expect (417)",
      labelNames: ['code'],
      registers,
    });
    this.connectionsDropped = new Counter({
      name: 'herald_http_connections_dropped_total',
      help: 'Connections closed on arrival because http.max_connections were open',
      registers,
    });
    this.callersRefused = new Counter({
      name: 'herald_callers_refused_total',
      help: 'Notify requests refused by caller protection: not_allowed (403), caller_rate or pushkey_rate (429)',
      labelNames: ['reason'],
      registers,
    });
    this.fcmTokenErrors = new Counter({
      name: 'herald_fcm_token_errors_total',
      help: 'Failed FCM access-token requests (OAuth token endpoint or metadata server), by reason: unreachable, unavailable, bad_answer, refused',
      labelNames: ['pushkin', 'reason'],
      registers,
    });
    this.storeErrors = new Counter({
      name: 'herald_store_errors_total',
      help: 'Store (Redis) calls that failed or timed out, by operation; Herald went on without the store',
      labelNames: ['operation'],
      registers,
    });
    this.unroutable.labels('unknown').inc(0);
    this.unroutable.labels('ambiguous').inc(0);
  }

  private readonly apps = new Map<string, AppMetrics>();

  /**
   * The app's labelled counters, created on first use (so its series show 0 from
   * start-up when called then) and cached.
   */
  forApp(pushkin: string): AppMetrics {
    let app = this.apps.get(pushkin);
    if (app) return app;
    this.inflightLimitDrop.labels(pushkin).inc(0);
    this.retries.labels(pushkin).inc(0);
    const outcomes = new Map<string, CounterChild>();
    app = {
      routed: this.perPushkinType.labels(pushkin),
      deduplicated: this.deduplicated.labels(pushkin),
      rejectedFromMemory: this.rejectedFromMemory.labels(pushkin),
      deadlineExceeded: this.deadlineExceeded.labels(pushkin),
      outcome: (kind) => {
        let child = outcomes.get(kind);
        if (!child) outcomes.set(kind, (child = this.outcomes.labels(pushkin, kind)));
        return child;
      },
    };
    for (const counter of [app.routed, app.deduplicated, app.rejectedFromMemory, app.deadlineExceeded]) counter.inc(0);
    this.apps.set(pushkin, app);
    return app;
  }
}
