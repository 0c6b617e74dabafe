import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { listenOn } from '../app';
import type { HeraldConfig } from '../config/config';
import { createMetricsServer } from '../metrics/server';
import type { Logger } from '../util/log';
import { VERSION } from '../version';

/** What a worker tells the primary once its listeners are open. */
export interface WorkerReady {
  readonly type: 'herald-ready';
  readonly listen: readonly string[];
}

function isWorkerReady(message: unknown): message is WorkerReady {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'herald-ready';
}

/** A worker that dies this soon after starting is not restarted (it would crash-loop). */
const MIN_WORKER_LIFETIME_MS = 5_000;

/**
 * The cluster primary (`workers: N`): forks N workers that share the notify port,
 * restarts one that dies, forwards SIGHUP (each worker reloads the file itself) and
 * SIGTERM/SIGINT (each finishes its requests), and serves the metrics of all workers
 * added up. Each worker has its own in-memory store.
 */
export function runPrimary(config: HeraldConfig, log: Logger): Promise<number> {
  const aggregator = new AggregatorRegistry();
  const started = new Map<Worker, number>();
  let stopping = false;
  let exitCode = 0;
  let ready = 0;

  const fork = (): void => {
    const worker = cluster.fork();
    started.set(worker, Date.now());
    worker.on('message', (message: unknown) => {
      if (!isWorkerReady(message) || ++ready !== config.workers) return;
      void announce(message.listen);
    });
  };

  const announce = async (listen: readonly string[]): Promise<void> => {
    const { enabled, address, port } = config.metrics.prometheus;
    const metricsAddress = enabled
      ? await listenOn(createMetricsServer({ contentType: aggregator.contentType, metrics: () => aggregator.clusterMetrics() }), port, address)
      : undefined;
    log.info(
      {
        version: VERSION,
        workers: config.workers,
        listen,
        ...(metricsAddress ? { metrics: `http://${metricsAddress.address}:${metricsAddress.port}/metrics` } : {}),
        apps: config.apps.map((a) => `${a.name} (${a.type})`),
      },
      'herald is ready',
    );
  };

  return new Promise((resolve) => {
    cluster.on('exit', (worker, code, signal) => {
      const lifetime = Date.now() - (started.get(worker) ?? 0);
      started.delete(worker);
      if (stopping) {
        if (started.size === 0) {
          log.info('stopped');
          resolve(exitCode);
        }
        return;
      }
      log.error({ worker: worker.id, code, signal }, 'worker died');
      if (lifetime < MIN_WORKER_LIFETIME_MS) {
        log.fatal('worker died during start-up; stopping');
        stopping = true;
        exitCode = 1;
        for (const other of started.keys()) other.process.kill('SIGTERM');
        if (started.size === 0) resolve(exitCode);
        return;
      }
      fork();
    });
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down: workers finish their requests in flight');
      for (const worker of started.keys()) worker.process.kill('SIGTERM');
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('SIGHUP', () => {
      for (const worker of started.keys()) worker.process.kill('SIGHUP');
    });
    for (let i = 0; i < config.workers; i++) fork();
  });
}

