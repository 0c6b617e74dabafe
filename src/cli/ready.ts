import type { AddressInfo } from 'node:net';
import type { HeraldConfig } from '../config/config';
import { describeStore } from '../store/create';
import type { Logger } from '../util/log';
import { VERSION } from '../version';

/**
 * The one "herald is ready" line, from a single process or a cluster primary (which adds
 * `workers`): what serves where, and with which apps and store.
 */
export function logReady(log: Logger, config: HeraldConfig, listen: readonly string[], metricsAddress: AddressInfo | undefined, extra: object = {}): void {
  log.info(
    {
      version: VERSION,
      ...extra,
      listen,
      ...(metricsAddress ? { metrics: `http://${metricsAddress.address}:${metricsAddress.port}/metrics` } : {}),
      apps: config.apps.map((a) => `${a.name} (${a.type})`),
      store: describeStore(config.store),
    },
    'herald is ready',
  );
}
