import type { ConfigSection } from '../../config/section';
import type { PushkinType } from '../pushkin';
import { readUnifiedPushConfig, type UnifiedPushConfig } from './config';

/**
 * `type: unifiedpush`: Herald as the Matrix gateway of UnifiedPush distributors. Reading
 * the configuration needs no HTTP client: the pushkin (undici) is loaded only when an app
 * of this type is built.
 */
export const unifiedPushPushkinType: PushkinType<UnifiedPushConfig> = {
  type: 'unifiedpush',
  readConfig: (section: ConfigSection) => readUnifiedPushConfig(section),
  create: async (config, env) => {
    const { UnifiedPushPushkin } = await import('./pushkin.js');
    return new UnifiedPushPushkin(config, env);
  },
  summary: (config) => ({
    allowed_endpoints: config.allowedEndpoints?.join(',') ?? '(any)',
    ttl: String(config.ttl),
    max_connections: String(config.maxConnections),
    max_body_bytes: String(config.maxBodyBytes),
    ...(config.allowPrivateEndpoints ? { allow_private_endpoints: 'true' } : {}),
  }),
};
