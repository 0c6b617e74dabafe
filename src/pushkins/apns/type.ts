import type { ConfigSection } from '../../config/section';
import type { Pushkin, PushkinEnv, PushkinType } from '../pushkin';
import { readApnsConfig, type ApnsConfig } from './config';

/**
 * `type: apns`. Reading the configuration needs no APNs client: the pushkin (node-apn,
 * HTTP/2) is loaded only when an app of this type is built, so a process without one
 * never pays its memory.
 */
export const apnsPushkinType: PushkinType<ApnsConfig> = {
  type: 'apns',

  readConfig(section: ConfigSection): ApnsConfig {
    return readApnsConfig(section);
  },

  async create(config: ApnsConfig, env: PushkinEnv): Promise<Pushkin> {
    const { ApnsPushkin } = await import('./pushkin.js');
    return ApnsPushkin.create(config, env);
  },

  summary: apnsSummary,
};

/** What `herald check-config` and the start-up line show of an APNs app. */
export function apnsSummary(config: ApnsConfig): Record<string, string> {
  const auth = config.auth;
  const summary: Record<string, string> = { platform: config.platform };
  if (auth?.kind === 'token') summary.auth = `token (key_id ${auth.keyId}, team_id ${auth.teamId})`;
  if (auth?.kind === 'certificate') {
    summary.auth = `certificate ${auth.file}`;
    summary.certificate_expires = new Date(auth.notAfter).toISOString();
  }
  if (config.topic !== undefined) summary.topic = config.topic;
  if (config.pushType !== undefined) summary.push_type = config.pushType;
  if (config.endpoint !== undefined) summary.endpoint = config.endpoint.url;
  return summary;
}
