import type { ConfigSection } from '../../config/section';
import { redactPushkey } from '../../util/redact';
import type { Pushkin, PushkinEnv, PushkinType } from '../pushkin';

export interface NoopConfig {
  /** Pushkeys answered as rejected, to try the rejected flow by hand. */
  readonly rejectPushkeys: ReadonlySet<string>;
}

/** Sends nothing: for development, smoke tests and measuring the gateway's own overhead. */
export const noopPushkinType: PushkinType<NoopConfig> = {
  type: 'noop',

  readConfig(section: ConfigSection): NoopConfig {
    return { rejectPushkeys: new Set(section.stringList('reject_pushkeys', { default: [] })) };
  },

  async create(config: NoopConfig, env: PushkinEnv): Promise<Pushkin> {
    return {
      name: env.name,
      type: 'noop',
      async dispatch(_notification, device, ctx) {
        if (config.rejectPushkeys.has(device.pushkey)) {
          return { kind: 'rejected', reason: 'listed in reject_pushkeys' };
        }
        // The pushkin's logger answers the level check: the device's is made only to write.
        if (env.log.isLevelEnabled('debug')) {
          ctx.log.debug({ pushkey_hash: redactPushkey(device.pushkey) }, 'noop pushkin: nothing sent');
        }
        return { kind: 'delivered' };
      },
      async close() {},
    };
  },

  summary(config: NoopConfig) {
    return { reject_pushkeys: String(config.rejectPushkeys.size) };
  },
};
