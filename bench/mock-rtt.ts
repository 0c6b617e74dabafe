import { readFileSync } from 'node:fs';
import { Notification, Provider } from '@parse/node-apn';

/**
 * The APNs mock's own round trip, as the latency target's reference: the client library
 * Herald uses (@parse/node-apn) sends to the bench's running APNs mock one notification
 * at a time, over its one HTTP/2 connection, for a warm-up and then for the measured
 * seconds. No Herald and no load generator in the way: what is left is the library, the
 * mock and the loopback. Run as its own process by the bench, right before the
 * `apns_1conn` measurement.
 * Usage: node dist/bench/mock-rtt.js '<MockRoundTripSpec JSON>'. Prints one JSON line, a MockRoundTripResult.
 */

export interface MockRoundTripSpec {
  /** The APNs mock's URL (https://127.0.0.1:port) and credentials, from MocksInfo. */
  readonly url: string;
  readonly caFile: string;
  readonly keyFile: string;
  readonly keyId: string;
  readonly teamId: string;
  readonly warmupS: number;
  readonly durationS: number;
}

/** Sequential sends measured (n) and their latency in ms. */
export interface MockRoundTripResult {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** A hex device token of the usual length (32 bytes). */
const TOKEN = 'a1'.repeat(32);
const TOPIC = 'com.example.app';

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

async function sendOne(provider: Provider): Promise<number> {
  const note = new Notification();
  note.topic = TOPIC;
  note.rawPayload = { aps: { alert: { title: 'Alice', body: 'Hello from the benchmark' }, sound: 'default', badge: 2 } };
  const started = performance.now();
  const result = await provider.send(note, TOKEN);
  const elapsed = performance.now() - started;
  const failed = result.failed[0];
  if (failed) throw new Error(`the APNs mock refused a send: ${failed.status ?? ''} ${failed.response?.reason ?? failed.error?.message ?? 'no reason'}`);
  return elapsed;
}

async function run(spec: MockRoundTripSpec): Promise<MockRoundTripResult> {
  const url = new URL(spec.url);
  const provider = new Provider({
    token: { key: readFileSync(spec.keyFile), keyId: spec.keyId, teamId: spec.teamId },
    production: false,
    address: url.hostname,
    port: Number(url.port),
    ca: [readFileSync(spec.caFile)],
    connectionRetryLimit: 0,
  });
  try {
    const warmupEnd = performance.now() + spec.warmupS * 1000;
    while (performance.now() < warmupEnd) await sendOne(provider);
    const latencies: number[] = [];
    const end = performance.now() + spec.durationS * 1000;
    while (performance.now() < end) latencies.push(await sendOne(provider));
    if (latencies.length === 0) throw new Error('no send finished within the measured time');
    latencies.sort((a, b) => a - b);
    return { n: latencies.length, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), max: latencies[latencies.length - 1] as number };
  } finally {
    await provider.shutdown();
  }
}

if (require.main === module) {
  const spec = JSON.parse(process.argv[2] ?? '{}') as MockRoundTripSpec;
  if (!(spec.url && spec.caFile && spec.keyFile && spec.durationS > 0 && spec.warmupS >= 0)) {
    console.error('usage: node dist/bench/mock-rtt.js <MockRoundTripSpec JSON>');
    process.exit(2);
  }
  // Bounded whatever happens (a send that never answers times out in node-apn after 5 s).
  setTimeout(() => {
    console.error('bench mock-rtt: did not finish in time');
    process.exit(1);
  }, (spec.warmupS + spec.durationS + 30) * 1000).unref();
  run(spec).then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      console.error(`bench mock-rtt: ${(err as Error).stack ?? String(err)}`);
      process.exit(1);
    },
  );
}
