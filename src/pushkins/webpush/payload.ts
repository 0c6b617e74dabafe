import { createHash } from 'node:crypto';
import { isPlainObject } from '../../config/section';
import type { Device, Notification } from '../../notification/types';
import type { DispatchOutcome } from '../pushkin';

/** Sygnal's limits: a longer `content.body` is cut, a longer `content.ciphertext` dropped (in characters). */
export const MAX_BODY_CHARS = 1000;
export const MAX_CIPHERTEXT_CHARS = 2000;

/** What is sent to one subscription, before encryption. */
export interface WebPushMessage {
  readonly endpoint: string;
  /** The subscription's public key (the pushkey) and auth secret, base64url as the browser gives them. */
  readonly p256dh: string;
  readonly auth: string;
  /** The JSON the service worker receives in its `push` event (`event.data.json()`). */
  readonly payload: string;
  readonly urgency: 'low' | 'normal';
  /** Set with `only_last_per_room`: the push service keeps only the newest message per topic. */
  readonly topic?: string;
}

export type BuildResult =
  | { readonly kind: 'send'; readonly message: WebPushMessage }
  | (DispatchOutcome & { readonly kind: 'rejected' | 'skipped' });

/** Notification fields copied when truthy, in Sygnal's order (`sygnal/webpushpushkin.py`, `_build_payload`). */
const FIELDS = ['room_id', 'room_name', 'room_alias', 'membership', 'event_id', 'sender', 'sender_display_name', 'user_is_target', 'type'] as const;

/**
 * The Web Push message for one device, or why none is sent (Sygnal's rules, `sygnal/webpushpushkin.py`).
 * Pure: nothing is mutated, the same input gives the same output.
 */
export function buildWebPush(notification: Notification, device: Device): BuildResult {
  const { data } = device;
  // Browsers must show a notification for every push, so a pusher can opt out of badge-only ones.
  if (data.events_only === true && notification.event_id === undefined) {
    return { kind: 'skipped', reason: 'events_only: no event in this notification' };
  }
  if (device.pushkey === '') return { kind: 'rejected', reason: 'pushkey (the subscription p256dh key) is empty' };
  if (typeof data.endpoint !== 'string' || data.endpoint === '') return { kind: 'rejected', reason: 'pusher data.endpoint is missing or not a string' };
  if (typeof data.auth !== 'string' || data.auth === '') return { kind: 'rejected', reason: 'pusher data.auth is missing or not a string' };
  const keyProblem = subscriptionKeyProblem(device.pushkey, data.auth);
  if (keyProblem !== undefined) return { kind: 'rejected', reason: keyProblem };

  const topic = data.only_last_per_room === true && notification.room_id !== undefined ? roomTopic(notification.room_id) : undefined;
  return {
    kind: 'send',
    message: {
      endpoint: data.endpoint,
      p256dh: device.pushkey,
      auth: data.auth,
      payload: JSON.stringify(buildPayload(notification, device)),
      urgency: notification.prio === 'low' ? 'low' : 'normal',
      ...(topic !== undefined ? { topic } : {}),
    },
  };
}

/** The JSON payload: default_payload, the truthy event fields, the counts, then content trimmed for size. */
export function buildPayload(notification: Notification, device: Device): Record<string, unknown> {
  const defaultPayload = device.data.default_payload;
  // Spread, not assignment: a "__proto__" key in the pusher's data stays a plain key.
  const payload: Record<string, unknown> = isPlainObject(defaultPayload) ? { ...defaultPayload } : {};
  for (const field of FIELDS) {
    const value = notification[field];
    if (value) payload[field] = value;
  }
  if (notification.counts.unread !== undefined) payload.unread = notification.counts.unread;
  if (notification.counts.missed_calls !== undefined) payload.missed_calls = notification.counts.missed_calls;
  const content = notification.content;
  if (content && Object.keys(content).length > 0) {
    // A web notification cannot show HTML, and the payload must stay small.
    const { formatted_body: _formatted, ...copy }: Record<string, unknown> = content;
    if (typeof copy.body === 'string') copy.body = cutToChars(copy.body, MAX_BODY_CHARS);
    if (typeof copy.ciphertext === 'string' && charCount(copy.ciphertext) > MAX_CIPHERTEXT_CHARS) delete copy.ciphertext;
    payload.content = copy;
  }
  return payload;
}

/**
 * `text` cut to at most `max` characters, the last one `…` when cut. Characters are
 * Unicode code points (as Sygnal's Python counts them), so a cut never splits a
 * surrogate pair.
 */
export function cutToChars(text: string, max: number): string {
  // Fast path: UTF-16 length is at least the code point count.
  if (text.length <= max) return text;
  const points = Array.from(text);
  if (points.length <= max) return text;
  return `${points.slice(0, max - 1).join('')}…`;
}

function charCount(text: string): number {
  return text.length <= MAX_CIPHERTEXT_CHARS ? text.length : Array.from(text).length;
}

/**
 * The `Topic` for a room: base64url of the first 24 bytes of SHA-256(room_id), exactly
 * 32 characters, the most RFC 8030 allows. Sygnal uses a BLAKE2s-22 digest, which
 * node:crypto cannot compute; only the push service compares topics, so the two need
 * not agree.
 */
export function roomTopic(roomId: string): string {
  return createHash('sha256').update(roomId).digest().subarray(0, 24).toString('base64url');
}

/** Why the subscription keys can never be used for encryption (RFC 8291), or undefined when they can. */
function subscriptionKeyProblem(p256dh: string, auth: string): string | undefined {
  if (!/^[A-Za-z0-9_+/-]+={0,2}$/.test(p256dh) || Buffer.from(p256dh, 'base64url').length !== 65) {
    return 'pushkey is not a P-256 public key (65 bytes, base64url): it must be the subscription\'s p256dh key';
  }
  if (!/^[A-Za-z0-9_+/-]+={0,2}$/.test(auth) || Buffer.from(auth, 'base64url').length < 16) {
    return 'pusher data.auth is not a 16-byte base64url auth secret';
  }
  return undefined;
}
