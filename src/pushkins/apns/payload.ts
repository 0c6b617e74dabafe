import type { Device, Notification } from '../../notification/types';

/**
 * Notification → APNs JSON payload, exactly as Sygnal builds it
 * (Sygnal's `sygnal/apnspushkin.py`, `_get_payload_full`), plus two changes: `tweaks.sound`
 * becomes `aps.sound`, and the badge can be switched off per app or per pusher.
 * Pure: no I/O, no clock, no logging; the pushkin decides what each result means.
 */

export type JsonObject = Record<string, unknown>;

export type PayloadFormat = 'full' | 'event_id_only' | 'badge_only';

export type PayloadResult =
  | { readonly kind: 'send'; readonly format: PayloadFormat; readonly payload: JsonObject }
  /** Nothing worth sending (no alert and no badge); not an error. */
  | { readonly kind: 'skip'; readonly reason: string }
  /** The pusher's data can never produce a payload: the pushkey should be rejected. */
  | { readonly kind: 'invalid'; readonly reason: string };

export interface PayloadOptions {
  /** The app's `send_badge_counts` (default true). */
  readonly sendBadgeCounts: boolean;
}

/** Sender and room names are cut to this many characters before anything else (Sygnal). */
export const MAX_NAME_CHARS = 1024;

/** Pusher-data keys by which a client asks for no badge (MSC4076, then its unprefixed form). */
export const DISABLE_BADGE_KEYS = ['org.matrix.msc4076.disable_badge_count', 'disable_badge_count'] as const;

export function buildPayload(notification: Notification, device: Device, options: PayloadOptions): PayloadResult {
  const defaultPayload = device.data.default_payload;
  // JSON null is treated as absent: rejecting deletes the pusher, so only a value
  // that is really there and really wrong earns it.
  if (defaultPayload !== undefined && defaultPayload !== null && !isPlainObject(defaultPayload)) {
    return { kind: 'invalid', reason: 'data.default_payload is not an object' };
  }
  const base = (defaultPayload ?? undefined) as JsonObject | undefined;
  const badgeAllowed = options.sendBadgeCounts && !DISABLE_BADGE_KEYS.some((key) => device.data[key] === true);

  if (notification.type !== undefined) return fullPayload(notification, device, base, badgeAllowed);
  if (notification.event_id !== undefined) return eventIdOnlyPayload(notification, base, badgeAllowed);
  return badgeOnlyPayload(notification, badgeAllowed);
}

/** aps.badge: unread + missed_calls, whichever exist; 0 is a value (it clears the badge). */
export function badgeCount(notification: Notification): number | undefined {
  const { unread, missed_calls: missedCalls } = notification.counts;
  if (unread === undefined && missedCalls === undefined) return undefined;
  return (unread ?? 0) + (missedCalls ?? 0);
}

export interface LocalisedAlert {
  readonly key: string;
  readonly args: string[];
}

/** Sygnal's loc-key / loc-args table (`sygnal/apnspushkin.py`); undefined means "no alert". */
export function localisedAlert(n: Notification): LocalisedAlert | undefined {
  const from = cutChars(n.sender_display_name ?? n.sender ?? ' ', MAX_NAME_CHARS);
  const roomName = n.room_name ?? n.room_alias;
  const room = roomName === undefined ? undefined : cutChars(roomName, MAX_NAME_CHARS);

  switch (n.type) {
    case 'm.room.message':
    case 'm.room.encrypted':
      return messageAlert(n, from, room);
    case 'm.call.invite':
      return { key: isVideoOffer(n.content) ? 'VIDEO_CALL_FROM_USER' : 'VOICE_CALL_FROM_USER', args: [from] };
    case 'm.room.member':
      // Only an invitation of the user themself is worth an alert.
      if (n.user_is_target !== true || n.membership !== 'invite') return undefined;
      return room === undefined ? { key: 'USER_INVITE_TO_CHAT', args: [from] } : { key: 'USER_INVITE_TO_NAMED_ROOM', args: [from, room] };
    default:
      // An event type we don't know, but push rules decided it deserves a notification.
      return { key: 'MSG_FROM_USER', args: [from] };
  }
}

function messageAlert(n: Notification, from: string, room: string | undefined): LocalisedAlert {
  const content = n.content ?? {};
  // The body is shown only when the event says what kind of message it is.
  const body = typeof content.msgtype === 'string' && typeof content.body === 'string' ? content.body : undefined;
  if (body !== undefined && content.msgtype === 'm.image') {
    return room === undefined ? { key: 'IMAGE_FROM_USER', args: [from, body] } : { key: 'IMAGE_FROM_USER_IN_ROOM', args: [from, body, room] };
  }
  if (body !== undefined && content.msgtype === 'm.emote') {
    return room === undefined ? { key: 'ACTION_FROM_USER', args: [from, body] } : { key: 'ACTION_FROM_USER_IN_ROOM', args: [room, from, body] };
  }
  if (body !== undefined) {
    return room === undefined
      ? { key: 'MSG_FROM_USER_WITH_CONTENT', args: [from, body] }
      : { key: 'MSG_FROM_USER_IN_ROOM_WITH_CONTENT', args: [from, room, body] };
  }
  return room === undefined ? { key: 'MSG_FROM_USER', args: [from] } : { key: 'MSG_FROM_USER_IN_ROOM', args: [from, room] };
}

function isVideoOffer(content: Readonly<JsonObject> | undefined): boolean {
  const offer = content?.offer;
  return isPlainObject(offer) && typeof offer.sdp === 'string' && offer.sdp.includes('m=video');
}

function fullPayload(n: Notification, device: Device, base: JsonObject | undefined, badgeAllowed: boolean): PayloadResult {
  const alert = localisedAlert(n);
  const badge = badgeAllowed ? badgeCount(n) : undefined;
  if (alert === undefined && badge === undefined) return { kind: 'skip', reason: `no alert and no badge for a ${n.type} event` };

  // Deep copy: the pusher's default_payload is shared by every push to it.
  const payload: JsonObject = base ? structuredClone(base) : {};
  const aps: JsonObject = isPlainObject(payload.aps) ? payload.aps : {};
  payload.aps = aps;
  if (alert !== undefined) {
    // An alert dict from default_payload keeps its other keys (title, sound names…);
    // a string alert there cannot carry loc-key, so it gives way to ours.
    const apsAlert: JsonObject = isPlainObject(aps.alert) ? aps.alert : {};
    apsAlert['loc-key'] = alert.key;
    apsAlert['loc-args'] = alert.args;
    aps.alert = apsAlert;
    // Sygnal ignores tweaks.sound (sygnal#107). A sound the client put in its
    // default_payload was chosen for this pusher on purpose (the usual workaround),
    // so it wins over the push rule's generic one.
    const sound = device.tweaks.sound;
    if (typeof sound === 'string' && sound !== '' && aps.sound === undefined) aps.sound = sound;
  }
  if (badge !== undefined) aps.badge = badge;
  if (alert !== undefined) {
    if (n.room_id !== undefined) payload.room_id = n.room_id;
    if (n.event_id !== undefined) payload.event_id = n.event_id;
  }
  return { kind: 'send', format: 'full', payload };
}

/**
 * For a Notification Service Extension: ids and counts only, so the app fetches and
 * decrypts the event itself. `aps` comes only from default_payload (typically
 * `mutable-content: 1` and a placeholder alert); a shallow copy, as Sygnal does.
 */
function eventIdOnlyPayload(n: Notification, base: JsonObject | undefined, badgeAllowed: boolean): PayloadResult {
  const payload: JsonObject = { ...base };
  if (n.room_id !== undefined) payload.room_id = n.room_id;
  if (n.event_id !== undefined) payload.event_id = n.event_id;
  if (badgeAllowed) {
    if (n.counts.unread !== undefined) payload.unread_count = n.counts.unread;
    if (n.counts.missed_calls !== undefined) payload.missed_calls = n.counts.missed_calls;
  }
  return { kind: 'send', format: 'event_id_only', payload };
}

/** After read receipts Synapse sends only counts; default_payload does not apply. */
function badgeOnlyPayload(n: Notification, badgeAllowed: boolean): PayloadResult {
  const badge = badgeAllowed ? badgeCount(n) : undefined;
  if (badge === undefined) {
    return { kind: 'skip', reason: badgeAllowed ? 'badge-only push without counts' : 'badge-only push with badge counts disabled' };
  }
  return { kind: 'send', format: 'badge_only', payload: { aps: { badge } } };
}

/** The first `max` code points of `text` (Python's s[:n], which Sygnal uses). */
function cutChars(text: string, max: number): string {
  // Cheap exit: fewer UTF-16 units than `max` means fewer code points too.
  if (text.length <= max) return text;
  let end = 0;
  let count = 0;
  for (const char of text) {
    if (count === max) break;
    end += char.length;
    count++;
  }
  return text.slice(0, end);
}

export function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
