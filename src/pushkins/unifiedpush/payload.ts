import { entriesWithinDepth, MAX_JSON_DEPTH } from '../../notification/depth';
import type { Device, Notification } from '../../notification/types';

/** The Matrix spec's limit on a pushkey (Push Gateway API, `pushkey`). */
export const MAX_PUSHKEY_BYTES = 512;

/** The notification keys an `event_id_only` pusher receives (Matrix spec, HTTP pushers' `format`). */
const EVENT_ID_ONLY_KEYS = ['event_id', 'room_id', 'counts', 'prio'] as const;

/** What was left out to stay under the size limit. */
export type Trimmed = 'content' | 'event_id_only';

export type Forward =
  | { readonly kind: 'send'; readonly body: string; readonly trimmed?: Trimmed }
  | { readonly kind: 'failed'; readonly reason: string };

/**
 * The body posted to the distributor, as UnifiedPush's Matrix gateway (common-proxies)
 * forwards it: `{"notification": {...}}`, the notification as the homeserver sent it with
 * its `devices` list removed (it holds the user's other pushkeys). A pusher with
 * `format: event_id_only` gets only the event's ids, counts and prio. Over `maxBytes`,
 * `content` is dropped first, then everything but what `event_id_only` keeps: the JSON is
 * never cut. Pure.
 */
export function buildForward(notification: Notification, device: Device, maxBytes: number): Forward {
  const received = receivedWithoutDevices(notification);
  const eventIdOnly = device.data.format === 'event_id_only';
  const candidates: Array<[Readonly<Record<string, unknown>>, Trimmed | undefined]> = eventIdOnly
    ? [[only(received, EVENT_ID_ONLY_KEYS), undefined]]
    : [
        [received, undefined],
        [without(received, 'content'), 'content'],
        [only(received, EVENT_ID_ONLY_KEYS), 'event_id_only'],
      ];
  let size = 0;
  for (const [fields, trimmed] of candidates) {
    const body = JSON.stringify({ notification: fields });
    size = Buffer.byteLength(body);
    if (size <= maxBytes) return { kind: 'send', body, ...(trimmed !== undefined ? { trimmed } : {}) };
  }
  return { kind: 'failed', reason: `the notification is ${size} bytes even without its content, over max_body_bytes (${maxBytes})` };
}

/** The homeserver's notification minus `devices`, nested no deeper than Herald handles anywhere. */
function receivedWithoutDevices(notification: Notification): Readonly<Record<string, unknown>> {
  if (notification.received === undefined) {
    // Made by Herald itself (send-test): its normalised fields are all there is.
    const { devices: _devices, received: _received, ...fields } = notification;
    return fields;
  }
  return entriesWithinDepth(without(notification.received, 'devices'), MAX_JSON_DEPTH).kept;
}

function without(record: Readonly<Record<string, unknown>>, key: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([name]) => name !== key));
}

function only(record: Readonly<Record<string, unknown>>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([name]) => keys.includes(name)));
}
