import { createHash } from 'node:crypto';

/**
 * The benchmark scenarios and the notify bodies they send. Bodies are shaped like
 * Synapse's (see the Matrix push gateway API, "POST /_matrix/push/v1/notify"): full format with the legacy `id`, or event_id_only.
 * Each body is a template whose `EVENT_ID` placeholder is replaced by a fresh event id
 * for every request, so Herald's de-duplication never short-cuts the upstream.
 */

export const EVENT_ID = '__BENCH_EVENT_ID__';
export const NOTIFY_PATH = '/_matrix/push/v1/notify';

export const APP_NOOP = 'bench.noop';
export const APP_APNS = 'bench.apns';
export const APP_FCM = 'bench.fcm';

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** The bare node:http reference server, or Herald. */
  readonly target: 'bare' | 'herald';
  /** Devices per notification. */
  readonly devices: number;
  /** Merged into Herald's configuration for this scenario (e.g. a log level, a feature turned on). */
  readonly config?: Record<string, unknown>;
  /** The request body, with EVENT_ID placeholders. */
  readonly body: string;
  /** Herald traces every request (tracing on, sample_ratio 1), exporting to the mocks' OTLP sink. */
  readonly traced?: boolean;
}

/** A device as Element iOS registers it: a 32-byte APNs token, base64. */
function apnsDevice(i: number): Record<string, unknown> {
  const pushkey = createHash('sha256').update(`bench-apns-${i}`).digest('base64');
  return { app_id: APP_APNS, pushkey, pushkey_ts: 1_700_000_000, data: {}, tweaks: { sound: 'default' } };
}

/** An FCM registration token of the usual shape and length (about 160 characters). */
function fcmToken(i: number): string {
  const hex = createHash('sha512').update(`bench-fcm-${i}`).digest('base64url');
  return `${hex.slice(0, 22)}:APA91b${(hex + hex).slice(0, 134)}`;
}

function fcmDevice(i: number, data: Record<string, unknown> = {}, tweaks: Record<string, unknown> | undefined = { sound: 'default' }): Record<string, unknown> {
  return { app_id: APP_FCM, pushkey: fcmToken(i), pushkey_ts: 1_700_000_000, data, ...(tweaks ? { tweaks } : {}) };
}

function noopDevice(): Record<string, unknown> {
  return { app_id: APP_NOOP, pushkey: 'bench-noop-pushkey-1', pushkey_ts: 1_700_000_000, data: {}, tweaks: { sound: 'default' } };
}

/** Synapse's full format for an unencrypted message. */
function fullBody(devices: Array<Record<string, unknown>>): string {
  return JSON.stringify({
    notification: {
      id: EVENT_ID,
      event_id: EVENT_ID,
      room_id: '!benchroom:example.org',
      type: 'm.room.message',
      sender: '@alice:example.org',
      sender_display_name: 'Alice',
      room_name: 'Benchmark room',
      prio: 'high',
      content: { msgtype: 'm.text', body: 'Hello from the benchmark: is this fast enough?' },
      counts: { unread: 2 },
      devices,
    },
  });
}

/** Synapse's event_id_only format (no tweaks at all). */
function eventIdOnlyBody(devices: Array<Record<string, unknown>>): string {
  return JSON.stringify({
    notification: { event_id: EVENT_ID, room_id: '!benchroom:example.org', prio: 'high', counts: { unread: 2 }, devices },
  });
}

function mixed(count: number): Array<Record<string, unknown>> {
  const devices: Array<Record<string, unknown>> = [];
  for (let i = 0; i < count; i++) devices.push(i % 2 === 0 ? apnsDevice(i) : fcmDevice(i));
  return devices;
}

/**
 * Every scenario the bench knows, in the order it runs them. A new scenario is one more
 * entry: its body, its device count and any configuration it turns on.
 */
export const SCENARIOS: readonly Scenario[] = [
  { name: 'bare', description: 'bare node:http server: parse the JSON body, answer {"rejected":[]}', target: 'bare', devices: 1, body: fullBody([noopDevice()]) },
  { name: 'noop', description: "noop pushkin, 1 device (the gateway's own overhead)", target: 'herald', devices: 1, body: fullBody([noopDevice()]) },
  { name: 'apns', description: 'APNs (HTTP/2 TLS mock, token auth), 1 device', target: 'herald', devices: 1, body: fullBody([apnsDevice(0)]) },
  { name: 'fcm', description: 'FCM v1 (mock + OAuth), 1 device', target: 'herald', devices: 1, body: fullBody([fcmDevice(0)]) },
  { name: 'apns20', description: 'APNs, 20 devices per notification (fan-out)', target: 'herald', devices: 20, body: fullBody(Array.from({ length: 20 }, (_, i) => apnsDevice(i))) },
  { name: 'mixed20', description: '20 devices: 10 APNs + 10 FCM', target: 'herald', devices: 20, body: fullBody(mixed(20)) },
  { name: 'mixed2', description: '1 APNs + 1 FCM device (the soak\'s body)', target: 'herald', devices: 2, body: fullBody(mixed(2)) },
  {
    name: 'event_id_only',
    description: 'FCM, 1 device, format event_id_only (as Element Android registers)',
    target: 'herald',
    devices: 1,
    body: eventIdOnlyBody([fcmDevice(0, { format: 'event_id_only' }, undefined)]),
  },
  { name: 'noop_traced', description: 'noop, 1 device, tracing on at sample_ratio 1 (OTLP/HTTP to a local sink)', target: 'herald', devices: 1, traced: true, body: fullBody([noopDevice()]) },
  { name: 'apns_traced', description: 'APNs, 1 device, tracing on at sample_ratio 1 (OTLP/HTTP to a local sink)', target: 'herald', devices: 1, traced: true, body: fullBody([apnsDevice(0)]) },
  { name: 'noop_info', description: 'noop, 1 device, log.level info (access log on)', target: 'herald', devices: 1, config: { log: { level: 'info' } }, body: fullBody([noopDevice()]) },
];

/** The scenarios whose peak RSS is compared with the bare server's. */
export const SUSTAINED = ['apns', 'fcm', 'apns20'];

export function scenario(name: string): Scenario {
  const found = SCENARIOS.find((s) => s.name === name);
  if (!found) throw new Error(`unknown scenario ${JSON.stringify(name)}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  return found;
}

/** The body split at its placeholders: join the parts with an event id to get a request body. */
export function bodyParts(body: string): string[] {
  return body.split(JSON.stringify(EVENT_ID).slice(1, -1));
}
