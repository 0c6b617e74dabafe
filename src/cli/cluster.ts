import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { ListenError, listenOn, METRICS_LISTENER } from '../util/listen';
import type { HeraldConfig } from '../config/config';
import { createMetricsServer } from '../metrics/server';
import type { Logger } from '../util/log';
import { logReady } from './ready';
import type { ProcessSignals } from './signals';

/** What a worker tells the primary once its listeners are open. */
export interface WorkerReady {
  readonly type: 'herald-ready';
  readonly listen: readonly string[];
}

/** What a worker tells the primary when its listener cannot open (the primary reports it once). */
export interface WorkerListenFailed {
  readonly type: 'herald-listen-failed';
  /** One line, naming the settings and the address. */
  readonly problem: string;
  readonly exitCode: number;
}

/** From the primary to a ready worker: stop, finishing requests in flight, without the usual lines (the primary reports why). */
export interface WorkerAbandon {
  readonly type: 'herald-abandon';
}

export function isWorkerAbandon(message: unknown): message is WorkerAbandon {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'herald-abandon';
}

function isWorkerReady(message: unknown): message is WorkerReady {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'herald-ready';
}

function isWorkerListenFailed(message: unknown): message is WorkerListenFailed {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'herald-listen-failed';
}

/** A worker that dies this soon after starting doubles the wait before the next replacement. */
const MIN_WORKER_LIFETIME_MS = 5_000;
const MIN_RESTART_DELAY_MS = 1_000;
const MAX_RESTART_DELAY_MS = 30_000;

/**
 * The cluster primary (`workers: N`): forks N workers that share the notify port,
 * replaces one that dies (with a growing delay while replacements keep dying), forwards
 * SIGHUP (each worker reloads the file itself; a worker still starting gets it once it
 * is ready) and SIGTERM/SIGINT (each finishes its requests), and serves the metrics of
 * all workers added up. The workers share what they remember through Redis (a memory
 * store with workers > 1 is refused by the configuration).
 */
export function runPrimary(config: HeraldConfig, log: Logger, signals: ProcessSignals): Promise<number> {
  const aggregator = new AggregatorRegistry();
  const started = new Map<Worker, number>();
  const readyWorkers = new Set<Worker>();
  const reloadWhenReady = new Set<Worker>();
  let stopping = false;
  let exitCode = 0;
  let ready = 0;
  let restartDelayMs = MIN_RESTART_DELAY_MS;

  const fork = (): void => {
    const worker = cluster.fork();
    started.set(worker, Date.now());
    worker.on('message', (message: unknown) => {
      if (isWorkerListenFailed(message)) fail(message.problem, message.exitCode);
      if (!isWorkerReady(message)) return;
      readyWorkers.add(worker);
      if (reloadWhenReady.delete(worker)) worker.process.kill('SIGHUP');
      if (++ready !== config.workers) return;
      announce(message.listen).catch((err: unknown) => {
        if (err instanceof ListenError) {
          fail(err.message, err.exitCode);
          return;
        }
        log.fatal({ err }, 'cannot serve metrics; stopping');
        process.kill(process.pid, 'SIGTERM');
      });
    });
  };

  const announce = async (listen: readonly string[]): Promise<void> => {
    const { enabled, address, port } = config.metrics.prometheus;
    const metricsAddress = enabled
      ? await listenOn(createMetricsServer({ contentType: aggregator.contentType, metrics: () => aggregator.clusterMetrics() }), port, address, METRICS_LISTENER)
      : undefined;
    logReady(log, config, listen, metricsAddress, { workers: config.workers });
  };

  // Set once the promise below exists: a listener that cannot open stops the whole cluster.
  let fail: (problem: string, code: number) => void = () => {};

  return new Promise((resolve) => {
    fail = (problem, code) => {
      // Every worker meets the same refusal: the first one's line is the cluster's.
      if (stopping) return;
      stopping = true;
      exitCode = code;
      process.stderr.write(`herald: ${problem}\n`);
      for (const worker of started.keys()) {
        if (readyWorkers.has(worker)) worker.send({ type: 'herald-abandon' } satisfies WorkerAbandon);
        else worker.process.kill('SIGTERM');
      }
      if (started.size === 0) resolve(exitCode);
    };
    cluster.on('exit', (worker, code, signal) => {
      const lifetime = Date.now() - (started.get(worker) ?? 0);
      started.delete(worker);
      readyWorkers.delete(worker);
      reloadWhenReady.delete(worker);
      if (stopping) {
        if (started.size === 0) {
          if (exitCode === 0) log.info('stopped');
          resolve(exitCode);
        }
        return;
      }
      log.error({ worker: worker.id, code, signal }, 'worker died');
      if (ready < config.workers) {
        log.fatal('a worker died before the gateway was ready; stopping');
        stopping = true;
        exitCode = 1;
        for (const other of started.keys()) other.process.kill('SIGTERM');
        if (started.size === 0) resolve(exitCode);
        return;
      }
      // The others keep serving. A replacement reads the config file again: while that
      // fails (an invalid file saved without SIGHUP), retry with a growing delay.
      restartDelayMs = lifetime < MIN_WORKER_LIFETIME_MS ? Math.min(restartDelayMs * 2, MAX_RESTART_DELAY_MS) : MIN_RESTART_DELAY_MS;
      log.warn({ delay_ms: restartDelayMs }, 'starting a replacement worker');
      setTimeout(() => {
        if (!stopping) fork();
      }, restartDelayMs).unref();
    });
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down: workers finish their requests in flight');
      for (const worker of started.keys()) worker.process.kill('SIGTERM');
    };
    signals.onStop(stop);
    for (let i = 0; i < config.workers; i++) fork();
    // Until a worker is ready it may not have its signal handlers yet: SIGHUP would kill
    // it. A SIGHUP received while this process loaded is forwarded the same way.
    signals.onReload(() => {
      for (const worker of started.keys()) {
        if (readyWorkers.has(worker)) worker.process.kill('SIGHUP');
        else reloadWhenReady.add(worker);
      }
    });
  });
}

