import { createHash } from 'node:crypto';

/**
 * The benchmark scenarios and the notify bodies they send. Bodies are shaped like
 * Synapse's (push-gateway-facts §2): full format with the legacy `id`, or event_id_only.
 * Each body is a template whose `EVENT_ID` placeholder is replaced by a fresh event id
 * for every request, so Herald's de-duplication never short-cuts the upstream.
 */

export const EVENT_ID = '__BENCH_EVENT_ID__';
export const NOTIFY_PATH = '/_matrix/push/v1/notify';

export const APP_NOOP = 'bench.noop';
export const APP_APNS = 'bench.apns';
export const APP_FCM = 'bench.fcm';

export type ScenarioName = 'ceiling' | 'noop' | 'apns' | 'apns_1conn' | 'fcm' | 'apns20' | 'mixed20' | 'event_id_only' | 'noop_info' | 'noop_traced';

export interface Scenario {
  readonly name: ScenarioName;
  readonly description: string;
  /** The bare node:http reference server, or Herald. */
  readonly target: 'ceiling' | 'herald';
  /** Devices per notification. */
  readonly devices: number;
  /** Herald's log.level for this scenario (the bench runs at warn unless told otherwise). */
  readonly logLevel?: 'info';
  /** The load generator's connections for this scenario, whatever --connections says. */
  readonly connections?: number;
  /**
   * Measure the APNs mock's own round trip (node-apn, one request at a time; bench/mock-rtt.ts)
   * right before this scenario's measurement, for the latency target.
   */
  readonly mockRoundTrip?: boolean;
  /** The request body, with EVENT_ID placeholders. */
  readonly body: string;
  /** Herald traces every request (tracing on, sample_ratio 1), exporting to bench/otlp-sink.ts. */
  readonly tracing?: boolean;
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

export const SCENARIOS: readonly Scenario[] = [
  { name: 'ceiling', description: 'bare node:http server: parse the JSON body, answer {"rejected":[]}', target: 'ceiling', devices: 1, body: fullBody([noopDevice()]) },
  { name: 'noop', description: 'Herald, noop pushkin, 1 device (the gateway\'s own overhead)', target: 'herald', devices: 1, body: fullBody([noopDevice()]) },
  { name: 'apns', description: 'Herald, APNs (HTTP/2 TLS mock, token auth), 1 device', target: 'herald', devices: 1, body: fullBody([apnsDevice(0)]) },
  {
    name: 'apns_1conn',
    description: 'Herald, APNs, 1 device, 1 connection (latency against the mock\'s own round trip)',
    target: 'herald',
    devices: 1,
    connections: 1,
    mockRoundTrip: true,
    body: fullBody([apnsDevice(0)]),
  },
  { name: 'fcm', description: 'Herald, FCM v1 (mock + OAuth; --fcm-tls: over TLS and HTTP/2), 1 device', target: 'herald', devices: 1, body: fullBody([fcmDevice(0)]) },
  { name: 'apns20', description: 'Herald, APNs, 20 devices per notification (fan-out against one upstream)', target: 'herald', devices: 20, body: fullBody(Array.from({ length: 20 }, (_, i) => apnsDevice(i))) },
  { name: 'mixed20', description: 'Herald, 20 devices: 10 APNs + 10 FCM', target: 'herald', devices: 20, body: fullBody(mixed(20)) },
  {
    name: 'event_id_only',
    description: 'Herald, FCM, 1 device, format event_id_only (as Element Android registers)',
    target: 'herald',
    devices: 1,
    body: eventIdOnlyBody([fcmDevice(0, { format: 'event_id_only' }, undefined)]),
  },
  { name: 'noop_info', description: 'Herald, noop pushkin, 1 device, log.level info (access log on)', target: 'herald', devices: 1, logLevel: 'info', body: fullBody([noopDevice()]) },
  { name: 'noop_traced', description: 'Herald, noop pushkin, 1 device, tracing on at sample_ratio 1 (OTLP/HTTP to a local sink)', target: 'herald', devices: 1, tracing: true, body: fullBody([noopDevice()]) },
];

export function scenario(name: string): Scenario {
  const found = SCENARIOS.find((s) => s.name === name);
  if (!found) throw new Error(`unknown scenario ${JSON.stringify(name)}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  return found;
}

/** The body split at its placeholders: join the parts with an event id to get a request body. */
export function bodyParts(body: string): string[] {
  return body.split(JSON.stringify(EVENT_ID).slice(1, -1));
}
