import type { ConfigSection } from '../../config/section';
import type { PushkinType } from '../pushkin';
import { readFcmConfig, type FcmConfig } from './config';

/**
 * `type: gcm` (alias `fcm`). Reading the configuration needs no HTTP or Google client:
 * the pushkin (undici, google-auth-library) is loaded only when an app of this type is built.
 */
export const fcmPushkinType: PushkinType<FcmConfig> = {
  type: 'gcm',
  readConfig: (section: ConfigSection) => readFcmConfig(section),
  create: async (config, env) => {
    const { FcmPushkin } = await import('./pushkin.js');
    return FcmPushkin.create(config, env);
  },
  summary: (config) => ({
    api_version: 'v1',
    project_id: config.projectId,
    ...(config.credentials.kind === 'service_account_file'
      ? {
          credentials: `service account file ${config.credentials.file}`,
          account: config.credentials.account.clientEmail,
          token_uri: config.credentials.account.tokenUri,
        }
      : { credentials: 'Application Default Credentials', account: '(found when the pushkin starts)' }),
    endpoint: config.endpoint,
    max_connections: String(config.maxConnections),
    send_badge_counts: String(config.sendBadgeCounts),
    fcm_options: Object.keys(config.fcmOptions).join(', ') || '(none)',
  }),
};
