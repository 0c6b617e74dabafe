import { Gateway } from '../app';
import { loadConfigFile } from '../config/config';
import { ConfigError } from '../config/section';
import { BUILTIN_PUSHKIN_TYPES } from '../pushkins/registry';
import { createLogger, type Logger } from '../util/log';
import { VERSION } from '../version';

/** Runs the gateway until SIGTERM/SIGINT; SIGHUP re-reads the config file. Resolves with the exit code. */
export async function serve(file: string): Promise<number> {
  let loaded;
  try {
    loaded = loadConfigFile(file, BUILTIN_PUSHKIN_TYPES);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`herald: ${file}: ${err.message}\n`);
      return 78; // EX_CONFIG
    }
    throw err;
  }
  const { config, warnings } = loaded;
  const log = createLogger(config.log.level);
  for (const warning of warnings) log.warn({ config: file }, warning);

  const gateway = await Gateway.create(config, { log });
  // Signal handlers go in before the listeners open: a supervisor may signal as soon as
  // it sees the process serve, and an unhandled SIGTERM would kill it mid-request.
  const stopped = new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      log.info({ signal }, 'shutting down: finishing requests in flight');
      gateway.close().then(
        () => {
          log.info('stopped');
          resolve(0);
        },
        (err: unknown) => {
          log.error({ err }, 'error while shutting down');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  process.on('SIGHUP', () => reload(file, gateway, log));

  const addresses = await gateway.listen();
  const metricsAddress = await gateway.listenMetrics();
  log.info(
    {
      version: VERSION,
      listen: addresses.map((a) => `${a.address}:${a.port}`),
      ...(metricsAddress ? { metrics: `http://${metricsAddress.address}:${metricsAddress.port}/metrics` } : {}),
      apps: config.apps.map((a) => `${a.name} (${a.type})`),
    },
    'herald is ready',
  );
  return stopped;
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
