import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

type CounterChild = ReturnType<Counter<string>['labels']>;

/** One app's labelled counters, looked up once: label look-ups are a cost on the notify path. */
export interface AppMetrics {
  /** sygnal_per_pushkin_type_total for the app's type. */
  readonly routed: CounterChild;
  readonly deduplicated: CounterChild;
  readonly rejectedFromMemory: CounterChild;
  readonly deadlineExceeded: CounterChild;
  outcome(kind: string): CounterChild;
}

/**
 * Every metric Herald exports, built on one registry. Names are Sygnal's
 * (push-gateway-facts §8) so existing dashboards and alerts keep working; Herald's own
 * metrics use the same `sygnal_` prefix. Labels are the configured app (`pushkin`: the
 * `apps` key, never an app_id taken from a request) and upstream status codes only.
 */
export class Metrics {
  readonly registry: Registry;

  // Gateway (Sygnal names)
  readonly notificationsReceived: Counter;
  readonly devicesReceived: Counter;
  readonly perPushkinType: Counter<'pushkin'>;
  readonly statusCodes: Counter<'code'>;
  readonly notifyTime: Histogram<'code'>;
  readonly requestsInFlight: Gauge;
  readonly inflightLimitDrop: Counter<'pushkin'>;

  // APNs (Sygnal names)
  readonly apnsRequestTime: Histogram<'pushkin'>;
  readonly activeApnsRequests: Gauge<'pushkin'>;
  readonly apnsStatusCodes: Counter<'pushkin' | 'code'>;
  readonly clientCertExpiry: Gauge<'pushkin'>;

  // FCM (Sygnal names)
  readonly gcmRequestTime: Histogram<'pushkin'>;
  readonly gcmQueueTime: Histogram<'pushkin'>;
  readonly pendingGcmRequests: Gauge<'pushkin'>;
  readonly activeGcmRequests: Gauge<'pushkin'>;
  readonly gcmStatusCodes: Counter<'pushkin' | 'code'>;

  // Herald's own
  readonly outcomes: Counter<'pushkin' | 'outcome'>;
  readonly deduplicated: Counter<'pushkin'>;
  readonly rejectedFromMemory: Counter<'pushkin'>;
  readonly unroutable: Counter<'reason'>;
  readonly configurationErrors: Counter<'pushkin' | 'reason'>;
  readonly retries: Counter<'pushkin'>;
  readonly deadlineExceeded: Counter<'pushkin'>;

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
      help: 'Number of devices dispatched to each pushkin type',
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
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30],
      registers,
    });
    this.requestsInFlight = new Gauge({
      name: 'sygnal_requests_in_flight',
      help: 'Notify requests being processed',
      registers,
    });
    this.inflightLimitDrop = new Counter({
      name: 'sygnal_inflight_request_limit_drop_total',
      help: 'Devices not sent because the app was at its inflight_request_limit',
      labelNames: ['pushkin'],
      registers,
    });

    const upstreamBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20];
    this.apnsRequestTime = new Histogram({
      name: 'sygnal_apns_request_time',
      help: 'Time taken by one request to APNs, in seconds',
      labelNames: ['pushkin'],
      buckets: upstreamBuckets,
      registers,
    });
    this.activeApnsRequests = new Gauge({
      name: 'sygnal_active_apns_requests',
      help: 'Requests to APNs in flight',
      labelNames: ['pushkin'],
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
      labelNames: ['pushkin'],
      buckets: upstreamBuckets,
      registers,
    });
    this.gcmQueueTime = new Histogram({
      name: 'sygnal_gcm_queue_time',
      help: 'Time a message waited for a free FCM connection, in seconds',
      labelNames: ['pushkin'],
      buckets: upstreamBuckets,
      registers,
    });
    this.pendingGcmRequests = new Gauge({
      name: 'sygnal_pending_gcm_requests',
      help: 'Messages waiting for a free FCM connection',
      labelNames: ['pushkin'],
      registers,
    });
    this.activeGcmRequests = new Gauge({
      name: 'sygnal_active_gcm_requests',
      help: 'Requests to FCM in flight',
      labelNames: ['pushkin'],
      registers,
    });
    this.gcmStatusCodes = new Counter({
      name: 'sygnal_gcm_status_codes_total',
      help: 'Status codes answered by FCM (0: no answer: timeout or connection error)',
      labelNames: ['pushkin', 'code'],
      registers,
    });

    this.outcomes = new Counter({
      name: 'sygnal_device_outcomes_total',
      help: 'Devices by outcome: delivered, skipped, rejected, retry, misconfigured, failed',
      labelNames: ['pushkin', 'outcome'],
      registers,
    });
    this.deduplicated = new Counter({
      name: 'sygnal_deduplicated_total',
      help: 'Devices not notified again because the same event was already delivered to them',
      labelNames: ['pushkin'],
      registers,
    });
    this.rejectedFromMemory = new Counter({
      name: 'sygnal_rejected_from_memory_total',
      help: 'Pushkeys rejected because an earlier request found them dead',
      labelNames: ['pushkin'],
      registers,
    });
    this.unroutable = new Counter({
      name: 'sygnal_unroutable_pushkeys_total',
      help: 'Pushkeys rejected because no app (unknown) or several globs (ambiguous) matched their app_id',
      labelNames: ['reason'],
      registers,
    });
    this.configurationErrors = new Counter({
      name: 'sygnal_configuration_errors_total',
      help: 'Sends that failed because of Herald\'s own configuration (credentials, topic, sender id)',
      labelNames: ['pushkin', 'reason'],
      registers,
    });
    this.retries = new Counter({
      name: 'sygnal_upstream_retries_total',
      help: 'Requests to a platform that were retried after a temporary failure',
      labelNames: ['pushkin'],
      registers,
    });
    this.deadlineExceeded = new Counter({
      name: 'sygnal_upstream_deadline_exceeded_total',
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
      buckets: upstreamBuckets,
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
  forApp(pushkin: string, type: string): AppMetrics {
    const key = `${pushkin}\u0000${type}`;
    let app = this.apps.get(key);
    if (app) return app;
    this.inflightLimitDrop.labels(pushkin).inc(0);
    this.retries.labels(pushkin).inc(0);
    const outcomes = new Map<string, CounterChild>();
    app = {
      routed: this.perPushkinType.labels(type),
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
    this.apps.set(key, app);
    return app;
  }
}
