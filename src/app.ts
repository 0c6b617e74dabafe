import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { AppConfig, HeraldConfig } from './config/config';
import { Dispatcher } from './dispatch/dispatcher';
import { AppRouter } from './dispatch/router';
import { ConnectionDrain } from './http/drain';
import { guardServer } from './http/protocol';
import { createHttpApp, createHttpServer } from './http/server';
import { Metrics } from './metrics/metrics';
import { closeObservability, loadObservability, type Observability } from './observability/load';
import { createMetricsServer } from './metrics/server';
import { InflightLimitedPushkin } from './pushkins/limit';
import type { Pushkin, PushkinEnv } from './pushkins/pushkin';
import { createStore } from './store/create';
import type { PushStore } from './store/store';
import { systemClock, type Clock } from './util/clock';
import { createLogger, type Logger } from './util/log';
import { listenOn, METRICS_LISTENER, NOTIFY_LISTENER } from './util/listen';
import { ProxySettings } from './util/proxy';

/** Time left, before the grace period ends, to answer requests still in flight. */
const SHUTDOWN_ANSWER_MARGIN_MS = 1_000;

export interface GatewayOptions {
  readonly log?: Logger;
  readonly metrics?: Metrics;
  readonly clock?: Clock;
  readonly store?: PushStore;
}

/** The pushkins built from one configuration, and the dispatcher routing over them. */
interface Generation {
  readonly pushkins: readonly Pushkin[];
  readonly dispatcher: Dispatcher;
}

/**
 * The composition root: configuration in, a running gateway out. Owns the HTTP
 * listeners, the pushkins and the store, and shuts them down in order.
 */
export class Gateway {
  /** The HTTP listener: every route, the notify endpoint included. */
  readonly app: Express;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Every listener (notify and metrics), drained without resets at shutdown. */
  private readonly drains: ConnectionDrain[] = [];
  private current: Generation;

  private constructor(
    private config: HeraldConfig,
    generation: Generation,
    private readonly store: PushStore,
    private readonly clock: Clock,
    log: Logger,
    metrics: Metrics,
    /** Tracing and error reports, as configured at start-up. */
    private readonly observability: Observability,
  ) {
    this.current = generation;
    this.log = log;
    this.metrics = metrics;
    this.app = createHttpApp({
      log,
      metrics,
      maxBodyBytes: config.http.maxBodyBytes,
      accessLog: config.log.accessEnabled,
      trustedProxies: config.http.trustedProxies,
      dispatcher: () => this.current.dispatcher,
      storeHealth: () => store.health(),
      ...(config.http.allowedCallers !== undefined ? { allowedCallers: config.http.allowedCallers } : {}),
      ...(config.http.rateLimit !== undefined ? { rateLimit: config.http.rateLimit } : {}),
      clock,
      unifiedPushGateway: () => this.config.apps.some((app) => app.type === 'unifiedpush'),
      ...observability,
    });
  }

  static async create(config: HeraldConfig, options: GatewayOptions = {}): Promise<Gateway> {
    const log = options.log ?? createLogger(config.log.level);
    const metrics = options.metrics ?? new Metrics({ defaultMetrics: true });
    const clock = options.clock ?? systemClock;
    const store = options.store ?? (await createStore(config.store, { log, metrics }));
    const observability = loadObservability(config.observability, log);
    let generation: Generation;
    try {
      await store.open();
      generation = await buildGeneration(config, store, clock, log, metrics, observability);
    } catch (err) {
      if (!options.store) await store.close();
      await closeObservability(observability, log);
      throw err;
    }
    return new Gateway(config, generation, store, clock, log, metrics, observability);
  }

  /** Listens on every `http.bind_addresses` entry; resolves with the bound addresses. */
  async listen(): Promise<AddressInfo[]> {
    const addresses: AddressInfo[] = [];
    for (const host of this.config.http.bindAddresses) {
      const server = createHttpServer(this.app, this.config.http);
      guardServer(server, this.config.http, this.log, this.metrics);
      this.drains.push(new ConnectionDrain(server));
      addresses.push(await listenOn(server, this.config.http.port, host, NOTIFY_LISTENER));
    }
    return addresses;
  }

  /** Starts the Prometheus listener when `metrics.prometheus.enabled`; resolves with its address. */
  async listenMetrics(): Promise<AddressInfo | undefined> {
    const { enabled, address, port } = this.config.metrics.prometheus;
    if (!enabled) return undefined;
    const server = createMetricsServer(this.metrics.registry);
    this.drains.push(new ConnectionDrain(server));
    return listenOn(server, port, address, METRICS_LISTENER);
  }

  /**
   * Stops accepting connections, lets requests in flight finish for up to `graceMs`
   * (answers from now on say `Connection: close`; see ConnectionDrain), then closes what
   * is left, the pushkins and the store.
   */
  async close(graceMs: number = this.config.http.shutdownGraceMs): Promise<void> {
    // Requests still waiting on a platform near the end of the grace period are answered
    // 502 (the homeserver retries) rather than having their connections cut.
    const answerEarly = setTimeout(
      () => this.current.dispatcher.answerAllNow('Herald is shutting down'),
      Math.max(0, graceMs - SHUTDOWN_ANSWER_MARGIN_MS),
    );
    await Promise.all(this.drains.map((drain) => drain.drain(graceMs)));
    clearTimeout(answerEarly);
    this.drains.length = 0;
    await closePushkins(this.current.pushkins, this.log);
    await this.store.close();
    await closeObservability(this.observability, this.log);
  }

  /**
   * Swaps in a new configuration's apps. Requests already in flight finish on the old
   * pushkins, which are closed once they are done; new requests use the new ones.
   * Listener settings (ports, addresses) need a restart and are kept.
   */
  async reload(config: HeraldConfig): Promise<void> {
    const next = await buildGeneration(config, this.store, this.clock, this.log, this.metrics, this.observability);
    const previous = this.current;
    const previousDeadlineMs = this.config.http.notifyDeadlineMs;
    const unchanged = restartOnlyChanges(this.config, config);
    if (unchanged.length > 0) this.log.warn({ settings: unchanged }, 'these settings change only on restart; the running values stay');
    this.current = next;
    this.config = {
      ...this.config,
      apps: config.apps,
      proxy: config.proxy,
      http: { ...this.config.http, notifyDeadlineMs: config.http.notifyDeadlineMs, shutdownGraceMs: config.http.shutdownGraceMs },
    };
    // Requests that took the old dispatcher have its whole deadline to finish before it closes.
    setTimeout(() => void closePushkins(previous.pushkins, this.log), previousDeadlineMs + 1_000).unref();
  }
}

/** Settings a reload cannot apply (listeners, logging, the store), where the new file differs. */
function restartOnlyChanges(running: HeraldConfig, next: HeraldConfig): string[] {
  const pairs: Array<[string, unknown, unknown]> = [
    ['http.port', running.http.port, next.http.port],
    ['http.bind_addresses', running.http.bindAddresses, next.http.bindAddresses],
    ['http.max_body_bytes', running.http.maxBodyBytes, next.http.maxBodyBytes],
    ['http.request_timeout_ms', running.http.requestTimeoutMs, next.http.requestTimeoutMs],
    ['http.headers_timeout_ms', running.http.headersTimeoutMs, next.http.headersTimeoutMs],
    ['http.keep_alive_timeout_ms', running.http.keepAliveTimeoutMs, next.http.keepAliveTimeoutMs],
    ['http.max_connections', running.http.maxConnections, next.http.maxConnections],
    ['http.allowed_callers', running.http.allowedCallers, next.http.allowedCallers],
    ['http.trusted_proxies', running.http.trustedProxies, next.http.trustedProxies],
    ['http.rate_limit', running.http.rateLimit, next.http.rateLimit],
    ['log', running.log, next.log],
    ['metrics', running.metrics, next.metrics],
    ['tracing, metrics.opentracing, metrics.sentry', running.observability, next.observability],
    ['store', running.store, next.store],
    ['workers', running.workers, next.workers],
  ];
  return pairs.filter(([, a, b]) => JSON.stringify(a) !== JSON.stringify(b)).map(([name]) => name);
}

async function buildGeneration(
  config: HeraldConfig,
  store: PushStore,
  clock: Clock,
  log: Logger,
  metrics: Metrics,
  observability: Observability,
): Promise<Generation> {
  const pushkins: Pushkin[] = [];
  const proxy = ProxySettings.resolve(config.proxy);
  try {
    for (const app of config.apps) {
      metrics.forApp(app.name);
      const pushkin = await app.pushkinType.create(app.settings, pushkinEnv(app, { log, metrics, clock, proxy }));
      pushkins.push(new InflightLimitedPushkin(pushkin, app.inflightRequestLimit, app.inflightQueueLimit, metrics));
    }
  } catch (err) {
    await closePushkins(pushkins, log);
    throw err;
  }
  // No app needed it while starting (a Web Push app may at its first send, which then fails and is retried).
  if (proxy?.problem !== undefined) log.warn(`${proxy.problem}; not used so far, as no app has connected through it`);
  const router = new AppRouter<Pushkin>(pushkins.map((pushkin) => [pushkin.name, pushkin] as const));
  return {
    pushkins,
    dispatcher: new Dispatcher(router, store, metrics, clock, config.http.notifyDeadlineMs, log, config.unknownAppId, observability.errors),
  };
}

/** What an app's pushkin is built with (also used by the CLI's check-config and send-test). */
export function pushkinEnv(
  app: AppConfig,
  shared: { log: Logger; metrics: Metrics; clock: Clock; proxy: ProxySettings | undefined },
): PushkinEnv {
  return {
    name: app.name,
    log: shared.log.child({ pushkin: app.name }),
    metrics: shared.metrics,
    clock: shared.clock,
    proxyFor: (target) => shared.proxy?.for(target),
  };
}

async function closePushkins(pushkins: readonly Pushkin[], log: Logger): Promise<void> {
  await Promise.all(
    pushkins.map((pushkin) =>
      pushkin.close().catch((err: unknown) => log.warn({ err, pushkin: pushkin.name }, 'error closing pushkin')),
    ),
  );
}
