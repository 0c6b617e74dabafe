import type { ConfigSection } from '../../config/section';
import type { PushkinType } from '../pushkin';
import { readWebPushConfig, type WebPushConfig } from './config';

/**
 * `type: webpush`. Reading the configuration needs no HTTP client: the pushkin (web-push,
 * undici) is loaded only when an app of this type is built.
 */
export const webPushPushkinType: PushkinType<WebPushConfig> = {
  type: 'webpush',
  readConfig: (section: ConfigSection) => readWebPushConfig(section),
  create: async (config, env) => {
    const { WebPushPushkin } = await import('./pushkin.js');
    return new WebPushPushkin(config, env);
  },
  summary: (config) => ({
    vapid_public_key: config.vapid.publicKey,
    vapid_contact: config.subject,
    allowed_endpoints: config.allowedEndpoints?.join(',') ?? '(any)',
    ttl: String(config.ttl),
    max_connections: String(config.maxConnections),
    ...(config.allowPrivateEndpoints ? { allow_private_endpoints: 'true' } : {}),
  }),
};
