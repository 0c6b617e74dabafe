import type { Writable } from 'node:stream';
import { pushkinEnv } from '../app';
import { loadConfigFile, type LoadedConfig } from '../config/config';
import { ConfigError } from '../config/section';
import { Metrics } from '../metrics/metrics';
import { BUILTIN_PUSHKIN_TYPES } from '../pushkins/registry';
import { systemClock } from '../util/clock';
import { createLogger } from '../util/log';
import { ProxySettings } from '../util/proxy';

/** Loads a config file for a CLI command, printing its problems; undefined when it is invalid. */
export function loadForCli(file: string, out: Writable): LoadedConfig | undefined {
  try {
    const loaded = loadConfigFile(file, BUILTIN_PUSHKIN_TYPES);
    for (const warning of loaded.warnings) out.write(`warning: ${warning}\n`);
    return loaded;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    out.write(`${file}: invalid configuration\n`);
    for (const problem of err.problems) out.write(`error: ${problem}\n`);
    return undefined;
  }
}

/**
 * `herald check-config FILE`: validates the file, builds every app's pushkin (so keys,
 * certificates and service accounts are actually loaded), and prints each app with the
 * settings that matter. Exits non-zero on any problem.
 */
export async function checkConfig(file: string, out: Writable): Promise<number> {
  const loaded = loadForCli(file, out);
  if (!loaded) return 1;
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
      status = `error: ${(err as Error).message}`;
    }
    const settings = Object.entries(shown)
      .map(([key, value]) => `${key}=${value}`)
      .join(' ');
    out.write(`  ${app.name}  type=${app.type} inflight_request_limit=${app.inflightRequestLimit}${settings ? ` ${settings}` : ''}  [${status}]\n`);
  }
  out.write(failed ? `${file}: problems found\n` : `${file}: OK\n`);
  return failed ? 1 : 0;
}
