import type { ConfigSection } from '../../config/section';
import type { PushkinType } from '../pushkin';
import { readFcmConfig, type FcmConfig } from './config';

/**
 * `type: gcm` (alias `fcm`). Reading the configuration needs no HTTP client: the pushkin
 * (undici) is loaded only when an app of this type is built.
 */
export const fcmPushkinType: PushkinType<FcmConfig> = {
  type: 'gcm',
  readConfig: (section: ConfigSection) => readFcmConfig(section),
  create: async (config, env) => {
    const { FcmPushkin } = await import('./pushkin.js');
    return new FcmPushkin(config, env);
  },
  summary: (config) => ({
    api_version: 'v1',
    project_id: config.projectId,
    service_account: config.serviceAccount.clientEmail,
    token_uri: config.serviceAccount.tokenUri,
    endpoint: config.endpoint,
    max_connections: String(config.maxConnections),
    send_badge_counts: String(config.sendBadgeCounts),
    fcm_options: Object.keys(config.fcmOptions).join(', ') || '(none)',
  }),
};
