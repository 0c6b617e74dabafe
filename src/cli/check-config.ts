import type { Writable } from 'node:stream';
import { pushkinEnv } from '../app';
import { loadConfigFile, type LoadedConfig } from '../config/config';
import { ConfigError } from '../config/section';
import { Metrics } from '../metrics/metrics';
import { BUILTIN_PUSHKIN_TYPES } from '../pushkins/registry';
import { systemClock } from '../util/clock';
import { createLogger } from '../util/log';
import { ProxySettings } from '../util/proxy';
import { EXIT_CONFIG, EXIT_OK, reportConfigError } from './exit';

/**
 * Loads a config file for a CLI command, printing its warnings on `stderr`; throws
 * ConfigError when it is invalid (see reportConfigError).
 */
export function loadForCli(file: string, stderr: Writable): LoadedConfig {
  const loaded = loadConfigFile(file, BUILTIN_PUSHKIN_TYPES);
  for (const warning of loaded.warnings) stderr.write(`warning: ${warning}\n`);
  return loaded;
}

/**
 * `herald check-config FILE`: validates the file, builds every app's pushkin (so keys,
 * certificates and service accounts are actually loaded), and prints each app with the
 * settings that matter on `out`. Problems go to `stderr` and exit EXIT_CONFIG, as `serve`
 * does on the same file.
 */
export async function checkConfig(file: string, out: Writable, stderr: Writable): Promise<number> {
  let loaded: LoadedConfig;
  try {
    loaded = loadForCli(file, stderr);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return reportConfigError(file, err, stderr);
  }
  const { config } = loaded;
  let failed = false;
  const metrics = new Metrics();
  out.write(`apps (${config.apps.length}):\n`);
  for (const app of config.apps) {
    let shown = app.pushkinType.summary(app.settings);
    let status = 'ok';
    try {
      const pushkin = await app.pushkinType.create(
        app.settings,
        pushkinEnv(app, { log: createLogger('silent'), metrics, clock: systemClock, proxy: ProxySettings.resolve(config.proxy) }),
      );
      // What building it found out (e.g. which credentials ADC resolved to) replaces the configuration's guess.
      if (pushkin.describe) shown = { ...shown, ...(await pushkin.describe()) };
      await pushkin.close();
    } catch (err) {
      failed = true;
      status = 'error';
      for (const problem of err instanceof ConfigError ? err.problems : [(err as Error).message]) stderr.write(`error: ${problem}\n`);
    }
    const settings = Object.entries(shown)
      .map(([key, value]) => `${key}=${value}`)
      .join(' ');
    out.write(`  ${app.name}  type=${app.type} inflight_request_limit=${app.inflightRequestLimit}${settings ? ` ${settings}` : ''}  [${status}]\n`);
  }
  if (failed) {
    stderr.write(`herald: ${file}: problems found\n`);
    return EXIT_CONFIG;
  }
  out.write(`${file}: OK\n`);
  return EXIT_OK;
}
