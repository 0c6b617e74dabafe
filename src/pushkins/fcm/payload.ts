import { isPlainObject } from '../../config/section';
import type { Device, Notification } from '../../notification/types';
import type { DispatchOutcome } from '../pushkin';
import type { JsonObject } from './config';
import { capField, ELLIPSIS_BYTES, truncateWithEllipsis } from './truncate';

/** FCM refuses messages whose payload is larger than this. */
export const MAX_MESSAGE_BYTES = 4096;

/** An FCM v1 `Message`: `fcm_options` from the config plus what Herald sets. */
export interface FcmMessage {
  readonly token: string;
  readonly data: Readonly<Record<string, string>>;
  readonly [field: string]: unknown;
}

export interface PayloadOptions {
  readonly fcmOptions: JsonObject;
  readonly sendBadgeCounts: boolean;
}

export type BuildResult =
  /** `json` is `message` serialised, as measured against the limit: the request body is made from it. */
  | { readonly kind: 'send'; readonly message: FcmMessage; readonly json: string; readonly shortened: boolean }
  | (DispatchOutcome & { readonly kind: 'rejected' | 'skipped' | 'failed' });

/** Notification fields copied into `data`, in Sygnal's order (`sygnal/gcmpushkin.py`, `_build_data`). */
const NOTIFICATION_FIELDS = [
  'event_id',
  'type',
  'sender',
  'room_name',
  'room_alias',
  'membership',
  'sender_display_name',
  'room_id',
] as const;

/**
 * Fields that may be shortened to fit the size limit. Identifiers (event_id, room_id,
 * sender…) are never cut: a client that receives half an event id cannot fetch the event.
 */
function isChoppable(key: string): boolean {
  return key.startsWith('content_') || key === 'sender_display_name' || key === 'room_name';
}

/** FCM rejects the whole message when a data key is one of these (and one key JS cannot hold). */
function isReservedDataKey(key: string): boolean {
  const lower = key.toLowerCase();
  // __proto__ is not reserved by FCM, but assigning it to a plain object would drop it silently.
  return lower === '__proto__' || lower === 'from' || lower === 'message_type' || lower.startsWith('google') || lower.startsWith('gcm');
}

/**
 * Builds the FCM v1 message for one device, or says why none is sent. Pure: the same
 * input gives the same output, nothing is mutated (what a message changes of fcm_options is copied).
 */
export function buildMessage(notification: Notification, device: Device, options: PayloadOptions): BuildResult {
  const defaultPayload = device.data.default_payload;
  // null is what some clients send for "none"; treating it as a reason to delete the pusher would be harsh.
  if (defaultPayload !== undefined && defaultPayload !== null && !isPlainObject(defaultPayload)) {
    return { kind: 'rejected', reason: 'pusher data default_payload is not an object' };
  }

  const data = buildData(notification, device, defaultPayload ?? {}, options.sendBadgeCounts);
  if (Object.keys(data).every((key) => key === 'prio')) {
    return { kind: 'skipped', reason: 'nothing to send: no event fields, no counts and no default_payload' };
  }

  const message = assemble(notification, device, data, options.fcmOptions);
  const fitted = fitToLimit(message, data);
  if (!fitted) {
    return { kind: 'failed', reason: `message larger than FCM's ${MAX_MESSAGE_BYTES} bytes even with its text shortened` };
  }
  return { kind: 'send', message: fitted.message, json: fitted.json, shortened: fitted.shortened };
}

/** `message.data`: every value a string, absent values left out (never null or "None"). */
export function buildData(
  notification: Notification,
  device: Device,
  defaultPayload: Readonly<Record<string, unknown>>,
  sendBadgeCounts: boolean,
): Record<string, string> {
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(defaultPayload)) {
    const text = asDataString(value);
    if (text !== undefined && !isReservedDataKey(key)) data[key] = capField(text);
  }
  for (const key of NOTIFICATION_FIELDS) {
    const value = notification[key];
    if (value !== undefined) data[key] = capField(value);
  }
  for (const [key, value] of Object.entries(notification.content ?? {})) {
    // Only string values: nested objects (m.relates_to…) would not be strings, and Sygnal drops them too.
    if (typeof value === 'string') data[`content_${key}`] = capField(value);
  }
  data.prio = notification.prio === 'low' ? 'normal' : 'high';
  if (sendBadgeCounts && !badgeDisabled(device)) {
    if (notification.counts.unread !== undefined) data.unread = String(notification.counts.unread);
    if (notification.counts.missed_calls !== undefined) data.missed_calls = String(notification.counts.missed_calls);
  }
  return data;
}

/** MSC4076: the pusher asked for no badge, so the counts are not sent. */
function badgeDisabled(device: Device): boolean {
  return device.data['org.matrix.msc4076.disable_badge_count'] === true || device.data.disable_badge_count === true;
}

/** FCM data values must be strings: scalars are written out, objects as JSON, null dropped. */
function asDataString(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

function assemble(notification: Notification, device: Device, data: Record<string, string>, fcmOptions: JsonObject): Record<string, unknown> {
  // Only the objects changed here are copied (shallowly): the rest is the frozen config's,
  // shared by every message and only ever read (a deep copy per device cost more than the
  // rest of the message).
  const low = notification.prio === 'low';
  // HIGH wakes a dozing Android device; NORMAL lets the OS batch the delivery.
  const android = { ...(isPlainObject(fcmOptions.android) ? fcmOptions.android : {}), priority: low ? 'NORMAL' : 'HIGH' };
  const message: Record<string, unknown> = { ...fcmOptions, token: device.pushkey, data, android };
  // iOS through Firebase: APNs' own priority, 10 now, 5 when power allows, like the APNs pushkin.
  const apns = fcmOptions.apns;
  if (isPlainObject(apns)) {
    const headers = { ...(isPlainObject(apns.headers) ? apns.headers : {}), 'apns-priority': low ? '5' : '10' };
    message.apns = { ...apns, headers };
  }
  return message;
}

/** UTF-8 bytes of a value as it appears in the JSON body (quotes and escapes included). */
function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}

/**
 * Shortens the longest choppable data values (ties: the first) until the message fits.
 * Each step cuts the longest one by the excess, or down to the next longest if that is
 * gentler, so long texts share the cut. Returns undefined when nothing is left to cut.
 */
function fitToLimit(
  message: Record<string, unknown>,
  original: Record<string, string>,
): { message: FcmMessage; json: string; shortened: boolean } | undefined {
  const json = JSON.stringify(message);
  let size = Buffer.byteLength(json);
  // Almost every message fits: it is sent as built, serialised once.
  if (size <= MAX_MESSAGE_BYTES) return { message: message as unknown as FcmMessage, json, shortened: false };
  const data = { ...original };
  while (size > MAX_MESSAGE_BYTES) {
    const candidates = Object.keys(data)
      .filter((key) => isChoppable(key) && Buffer.byteLength(data[key] as string) > ELLIPSIS_BYTES)
      .map((key) => ({ key, bytes: jsonBytes(data[key]) }))
      .sort((a, b) => b.bytes - a.bytes);
    const [longest, next] = candidates;
    if (!longest) return undefined;
    const excess = size - MAX_MESSAGE_BYTES;
    let cut = excess;
    if (next && next.bytes < longest.bytes && longest.bytes - excess < next.bytes) cut = longest.bytes - next.bytes;
    const current = data[longest.key] as string;
    const budget = Buffer.byteLength(current) - cut;
    const replacement = truncateWithEllipsis(original[longest.key] as string, Math.max(budget, ELLIPSIS_BYTES));
    size += jsonBytes(replacement) - longest.bytes;
    data[longest.key] = replacement;
  }
  const cut = { ...message, data };
  return { message: cut as unknown as FcmMessage, json: JSON.stringify(cut), shortened: true };
}
