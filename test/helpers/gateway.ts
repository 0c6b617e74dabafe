import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Gateway, type GatewayOptions } from '../../src/app';
import { loadConfigText } from '../../src/config/config';
import { Metrics } from '../../src/metrics/metrics';
import { BUILTIN_PUSHKIN_TYPES, type PushkinTypes } from '../../src/pushkins/registry';
import { createLogger } from '../../src/util/log';
import { watchAnswers } from './openapi-document';

/** Every log line a gateway wrote, parsed, plus the raw text (for "secret never appears" checks). */
export class CapturedLogs {
  readonly lines: Array<Record<string, unknown>> = [];
  raw = '';
  private readonly waiters: Array<{ matches(line: Record<string, unknown>): boolean; resolve(line: Record<string, unknown>): void }> = [];

  stream(): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        const text = chunk.toString('utf8');
        this.raw += text;
        for (const entry of text.split('\n')) {
          if (!entry.trim()) continue;
          const line = JSON.parse(entry) as Record<string, unknown>;
          this.lines.push(line);
          for (const waiter of this.waiters.filter((w) => w.matches(line))) {
            this.waiters.splice(this.waiters.indexOf(waiter), 1);
            waiter.resolve(line);
          }
        }
        callback();
      },
    });
  }

  messages(): string[] {
    return this.lines.map((line) => String(line.msg));
  }

  /** The first line, written already or to come, that `matches`: waits on the logger, never on a timer. */
  line(matches: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const found = this.lines.find(matches);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.push({ matches, resolve }));
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
 * debug into memory. Every answer it writes is checked against openapi/herald.yaml
 * (see openapi-document.ts); `close()` fails naming each one that does not match.
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
    ...options,
    metrics,
  });
  const addresses = await gateway.listen();
  const [address] = addresses as [AddressInfo];
  const answers = watchAnswers(addresses.map((bound) => bound.port));
  return {
    gateway,
    url: `http://127.0.0.1:${address.port}`,
    logs,
    metrics,
    close: async () => {
      await gateway.close(1_000);
      const undocumented = answers.stop();
      if (undocumented.length > 0) throw new Error(`answers that openapi/herald.yaml does not describe:\n${undocumented.join('\n')}`);
    },
  };
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
