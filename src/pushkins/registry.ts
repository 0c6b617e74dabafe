import { apnsPushkinType } from './apns/pushkin';
import { fcmPushkinType } from './fcm/pushkin';
import { noopPushkinType } from './noop/pushkin';
import type { PushkinType } from './pushkin';
import { webPushPushkinType } from './webpush/pushkin';

/**
 * Config `type` → platform. Sygnal's names are kept (`gcm` for FCM); `fcm` is an alias.
 * The config type of each platform is its own, so the map holds them as unknown.
 */
export type PushkinTypes = ReadonlyMap<string, PushkinType<unknown>>;

export const BUILTIN_PUSHKIN_TYPES: PushkinTypes = new Map<string, PushkinType<unknown>>([
  ['noop', noopPushkinType as PushkinType<unknown>],
  ['apns', apnsPushkinType as PushkinType<unknown>],
  ['gcm', fcmPushkinType as PushkinType<unknown>],
  ['fcm', fcmPushkinType as PushkinType<unknown>],
  ['webpush', webPushPushkinType as PushkinType<unknown>],
]);
