import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { AggregatorRegistry } from 'prom-client';
import type { Gateway } from '../app';
import { loadConfigFile, type LoadedConfig } from '../config/config';
import { ConfigError } from '../config/section';
import { BUILTIN_PUSHKIN_TYPES } from '../pushkins/registry';
import { ListenError } from '../util/listen';
import { createLogger, type Logger } from '../util/log';
import { reportConfigError } from './exit';
import { isWorkerAbandon, runPrimary, type WorkerListenFailed, type WorkerReady } from './cluster';
import { logReady } from './ready';
import type { ProcessSignals } from './signals';

/**
 * Runs the gateway until SIGTERM/SIGINT; SIGHUP re-reads the config file (one received
 * during start-up is applied once ready). With `workers: N > 1` this process becomes the
 * cluster primary and N workers serve. Resolves with the exit code.
 */
export async function serve(file: string, signals: ProcessSignals): Promise<number> {
  let loaded: LoadedConfig;
  try {
    loaded = loadConfigFile(file, BUILTIN_PUSHKIN_TYPES);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return reportConfigError(file, err, process.stderr);
  }
  const { config, warnings } = loaded;
  const log = createLogger(config.log.level);
  if (cluster.isPrimary) for (const warning of warnings) log.warn({ config: file }, warning);
  if (cluster.isPrimary && config.workers > 1) return runPrimary(config, log, signals);

  // Loaded only here: a cluster primary never serves, and need not load the HTTP stack.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- an on-demand load
  const { Gateway } = require('../app') as typeof import('../app');
  let gateway: Gateway;
  try {
    gateway = await Gateway.create(config, { log: cluster.isWorker ? log.child({ worker: cluster.worker?.id }) : log });
  } catch (err) {
    // What only building the pushkins finds (e.g. HTTPS_PROXY from the environment).
    if (!(err instanceof ConfigError)) throw err;
    return reportConfigError(file, err, process.stderr);
  }
  // Signal handlers go in before the listeners open: a supervisor may signal as soon as
  // it sees the process serve, and an unhandled SIGTERM would kill it mid-request.
  let serving = false;
  let stop: (signal: NodeJS.Signals, quiet?: boolean) => void = () => {};
  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    stop = (signal, quiet = false) => {
      if (stopping) return;
      stopping = true;
      // A worker stopped by its primary before it served (another worker could not
      // listen) has nothing to finish, and nothing to say: the primary says why.
      if (cluster.isWorker && !serving) process.exit(0);
      if (!quiet) gateway.log.info({ signal }, 'shutting down: finishing requests in flight');
      gateway.close().then(
        () => {
          if (!quiet) gateway.log.info('stopped');
          resolve(0);
        },
        (err: unknown) => {
          gateway.log.error({ err }, 'error while shutting down');
          resolve(1);
        },
      );
    };
    signals.onStop((signal) => stop(signal));
  });

  let listen: string[];
  let metricsAddress: AddressInfo | undefined;
  try {
    listen = (await gateway.listen()).map((a) => `${a.address}:${a.port}`);
    // The primary serves metrics for the whole cluster.
    if (!cluster.isWorker) metricsAddress = await gateway.listenMetrics();
  } catch (err) {
    if (!(err instanceof ListenError)) throw err;
    await gateway.close(0);
    return reportListenError(err);
  }
  serving = true;
  if (cluster.isWorker) {
    // The primary stops the cluster because it cannot serve metrics: it reports why.
    process.on('message', (message: unknown) => {
      if (isWorkerAbandon(message)) stop('SIGTERM', true);
    });
    // The primary serves metrics for the whole cluster from every worker's registry.
    // prom-client installs a worker's reply handler only when an AggregatorRegistry is built.
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([gateway.metrics.registry]);
    signals.onReload(() => reload(file, gateway, gateway.log));
    process.send?.({ type: 'herald-ready', listen } satisfies WorkerReady);
    return stopped;
  }
  logReady(log, config, listen, metricsAddress);
  signals.onReload(() => reload(file, gateway, gateway.log));
  return stopped;
}

/**
 * A listener that cannot open is one line on stderr and an exit status (no stack trace:
 * nothing is wrong with Herald). A worker tells the primary instead, which prints it
 * once for the cluster: every worker meets the same refusal.
 */
async function reportListenError(err: ListenError): Promise<number> {
  if (cluster.isWorker && process.send !== undefined) {
    const message: WorkerListenFailed = { type: 'herald-listen-failed', problem: err.message, exitCode: err.exitCode };
    // Sent before the worker exits, so the primary hears why before it sees the exit.
    await new Promise<void>((resolve) => process.send?.(message, () => resolve()));
  } else {
    process.stderr.write(`herald: ${err.message}\n`);
  }
  return err.exitCode;
}

/** Re-reads the config file; an invalid one is refused and the running config keeps serving. */
function reload(file: string, gateway: Gateway, log: Logger): void {
  let next;
  try {
    next = loadConfigFile(file, BUILTIN_PUSHKIN_TYPES);
  } catch (err) {
    log.error({ problems: err instanceof ConfigError ? err.problems : String(err) }, 'new configuration refused; the previous one keeps serving');
    return;
  }
  for (const warning of next.warnings) log.warn({ config: file }, warning);
  const apps = next.config.apps.map((a) => a.name);
  gateway.reload(next.config).then(
    () => log.info({ apps }, 'configuration reloaded'),
    (err: unknown) => log.error({ err }, 'reload failed; the previous configuration keeps serving'),
  );
}
