import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Gateway, type GatewayOptions } from '../../src/app';
import { loadConfigText } from '../../src/config/config';
import { Metrics } from '../../src/metrics/metrics';
import { BUILTIN_PUSHKIN_TYPES, type PushkinTypes } from '../../src/pushkins/registry';
import { createLogger } from '../../src/util/log';

/** Every log line a gateway wrote, parsed, plus the raw text (for "secret never appears" checks). */
export class CapturedLogs {
  readonly lines: Array<Record<string, unknown>> = [];
  raw = '';

  stream(): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        const text = chunk.toString('utf8');
        this.raw += text;
        for (const line of text.split('\n')) if (line.trim()) this.lines.push(JSON.parse(line) as Record<string, unknown>);
        callback();
      },
    });
  }

  messages(): string[] {
    return this.lines.map((line) => String(line.msg));
  }
}

export interface RunningGateway {
  readonly gateway: Gateway;
  /** Base URL, e.g. http://127.0.0.1:40123 */
  readonly url: string;
  readonly logs: CapturedLogs;
  readonly metrics: Metrics;
  close(): Promise<void>;
}

export interface StartOptions extends GatewayOptions {
  /** Directory relative file paths in the YAML resolve against. */
  readonly baseDir?: string;
  /** Pushkin types on top of the built-in ones (test-only platforms). */
  readonly pushkinTypes?: PushkinTypes;
  /** Keys of the `http` section besides the listener (e.g. notify_deadline_ms). */
  readonly http?: Record<string, unknown>;
}

/**
 * Starts a real gateway from YAML text on 127.0.0.1 and an ephemeral port, logging at
 * debug into memory and validating its own responses against our OpenAPI document.
 */
export async function startGateway(yaml: string, options: StartOptions = {}): Promise<RunningGateway> {
  const types = new Map([...BUILTIN_PUSHKIN_TYPES, ...(options.pushkinTypes ?? new Map())]);
  const http = { port: 0, bind_addresses: ['127.0.0.1'], ...options.http };
  const withListener = `http: ${JSON.stringify(http)}\n${yaml}`;
  const { config } = loadConfigText(withListener, options.baseDir ?? process.cwd(), types);
  const logs = new CapturedLogs();
  const metrics = options.metrics ?? new Metrics();
  const gateway = await Gateway.create(config, {
    log: createLogger('debug', logs.stream()),
    validateResponses: true,
    ...options,
    metrics,
  });
  const [address] = (await gateway.listen()) as [AddressInfo];
  return { gateway, url: `http://127.0.0.1:${address.port}`, logs, metrics, close: () => gateway.close(1_000) };
}

/** The value of a gateway's metric series with these labels (0 when there is none yet). */
export async function metric(gw: RunningGateway, name: string, labels: Record<string, string> = {}): Promise<number> {
  const found = (await gw.metrics.registry.getSingleMetric(name)?.get())?.values.find((v) =>
    Object.entries(labels).every(([k, value]) => v.labels[k] === value),
  );
  return found?.value ?? 0;
}

/** A notification body with one device; override any field. */
export function notifyBody(notification: Record<string, unknown> = {}, device: Record<string, unknown> = {}): { notification: Record<string, unknown> } {
  return {
    notification: {
      event_id: '$event1:example.org',
      room_id: '!room:example.org',
      type: 'm.room.message',
      sender: '@alice:example.org',
      sender_display_name: 'Alice',
      room_name: 'Lunch',
      prio: 'high',
      content: { msgtype: 'm.text', body: 'Hello there' },
      counts: { unread: 2, missed_calls: 1 },
      devices: [{ app_id: 'com.example.app', pushkey: 'pushkey-1', pushkey_ts: 1700000000, data: {}, tweaks: { sound: 'default' }, ...device }],
      ...notification,
    },
  };
}
