import { entriesWithinDepth, MAX_JSON_DEPTH } from './depth';
import type { Counts, Device, Notification } from './types';

/**
 * The request body once the OpenAPI validator has checked its types. Nullable and
 * optional fields are what real homeservers send (Synapse's `HttpPusher` omits
 * or nulls them; see test/fixtures/homeserver-samples/).
 */
export interface NotifyRequestBody {
  notification: {
    event_id?: string | null;
    room_id?: string | null;
    type?: string | null;
    sender?: string | null;
    sender_display_name?: string | null;
    room_name?: string | null;
    room_alias?: string | null;
    membership?: string | null;
    user_is_target?: boolean | null;
    prio?: 'high' | 'low' | null;
    content?: Record<string, unknown> | null;
    counts?: { unread?: number | null; missed_calls?: number | null } | null;
    devices: Array<{
      app_id: string;
      pushkey: string;
      pushkey_ts?: number | null;
      data?: Record<string, unknown> | null;
      tweaks?: Record<string, unknown> | null;
    }>;
  };
}

/** Empty strings and nulls mean "absent": Synapse's badge-only push sends `sender: ""`, `type: null`. */
function present(value: string | null | undefined): string | undefined {
  return value === null || value === undefined || value === '' ? undefined : value;
}

function normalizeCounts(counts: NotifyRequestBody['notification']['counts']): Counts {
  if (!counts) return {};
  const result: { unread?: number; missed_calls?: number } = {};
  if (typeof counts.unread === 'number') result.unread = counts.unread;
  if (typeof counts.missed_calls === 'number') result.missed_calls = counts.missed_calls;
  return result;
}

export function normalizeNotification(body: NotifyRequestBody): Notification {
  const n = body.notification;
  const devices: Device[] = n.devices.map(normalizeDevice);
  const notification: { -readonly [K in keyof Notification]: Notification[K] } = {
    prio: n.prio === 'low' ? 'low' : 'high',
    counts: normalizeCounts(n.counts),
    devices,
    received: n,
  };
  const strings = ['event_id', 'room_id', 'type', 'sender', 'sender_display_name', 'room_name', 'room_alias', 'membership'] as const;
  for (const key of strings) {
    const value = present(n[key]);
    if (value !== undefined) notification[key] = value;
  }
  if (typeof n.user_is_target === 'boolean') notification.user_is_target = n.user_is_target;
  if (n.content) notification.content = entriesWithinDepth(n.content, MAX_JSON_DEPTH).kept;
  return notification;
}

/**
 * Pusher data, tweaks and content are bounded here, before anything recursive (deep
 * copies, serialisation, truncation) touches them: an entry nesting more than
 * MAX_JSON_DEPTH levels is dropped, except a `default_payload`, which the client meant to
 * be sent and never can be, so the device is marked unsendable (and rejected).
 */
function normalizeDevice(d: NotifyRequestBody['notification']['devices'][number]): Device {
  const data = entriesWithinDepth(d.data ?? {}, MAX_JSON_DEPTH);
  return {
    app_id: d.app_id,
    pushkey: d.pushkey,
    ...(typeof d.pushkey_ts === 'number' ? { pushkey_ts: d.pushkey_ts } : {}),
    data: data.kept,
    tweaks: entriesWithinDepth(d.tweaks ?? {}, MAX_JSON_DEPTH).kept,
    ...(data.dropped.includes('default_payload') ? { unsendable: `data.default_payload nests more than ${MAX_JSON_DEPTH} levels` } : {}),
  };
}
