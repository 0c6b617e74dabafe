import { apnsPushkinType } from './apns/type';
import { fcmPushkinType } from './fcm/type';
import { noopPushkinType } from './noop/pushkin';
import type { PushkinType } from './pushkin';
import { unifiedPushPushkinType } from './unifiedpush/type';
import { webPushPushkinType } from './webpush/type';

/**
 * Config `type` → platform. Sygnal's names are kept (`gcm` for FCM); `fcm` is an alias.
 * Each type reads its configuration without loading its client libraries: `create`
 * loads them, only for a configuration that uses them (they weigh megabytes each).
 * The config type of each platform is its own, so the map holds them as unknown.
 */
export type PushkinTypes = ReadonlyMap<string, PushkinType<unknown>>;

export const BUILTIN_PUSHKIN_TYPES: PushkinTypes = new Map<string, PushkinType<unknown>>([
  ['noop', noopPushkinType as PushkinType<unknown>],
  ['apns', apnsPushkinType as PushkinType<unknown>],
  ['gcm', fcmPushkinType as PushkinType<unknown>],
  ['fcm', fcmPushkinType as PushkinType<unknown>],
  ['webpush', webPushPushkinType as PushkinType<unknown>],
  ['unifiedpush', unifiedPushPushkinType as PushkinType<unknown>],
]);
