import { parseArgs } from 'node:util';
import { SCENARIOS, scenario, type ScenarioName } from './scenarios';

export interface BenchOptions {
  readonly durationS: number;
  readonly warmupS: number;
  readonly connections: number;
  readonly scenarios: readonly ScenarioName[];
  readonly json?: string;
  /** Leak check: seconds at full load after the warm-up; 0 skips it. */
  readonly soakS: number;
  readonly soakScenario: ScenarioName;
  readonly workers?: number;
  /** Herald's store: memory (its default) or a redis-server the bench starts for the run. */
  readonly store: 'memory' | 'redis';
  /** Serve the FCM mock over TLS, so Herald uses HTTP/2 as with the real FCM. */
  readonly fcmTls: boolean;
  readonly loader: 'auto' | 'wrk' | 'autocannon';
  readonly threads: number;
  readonly profile: boolean;
  readonly profileDir: string;
  /** Extra Herald config settings, `dotted.path` → value (parsed as JSON when it is JSON). */
  readonly set: ReadonlyArray<readonly [string, unknown]>;
}

export const USAGE = `npm run bench -- [options]      (or: node dist/bench/run.js [options] after npm run build)

  --duration S        measured seconds per scenario (default 10)
  --warmup S          warm-up seconds before each measurement, not counted (default 5)
  --connections N     concurrent connections of the load generator (default 50;
                      ${SCENARIOS.filter((s) => s.connections !== undefined).map((s) => `${s.name} always uses ${s.connections}`).join(', ')})
  --scenarios a,b     which scenarios, in order (default all):
                        ${SCENARIOS.map((s) => s.name).join(', ')}
                      apns_1conn: the apns body at 1 connection; right before it is
                      measured, the bench measures the APNs mock's own round trip
                      (node-apn, one send at a time) for the latency target
                      Every run with a Herald scenario also reads Herald's idle RSS on
                      config.sample.yaml (3 starts, 2 s without requests each)
  --soak S            leak check: RSS after warm-up vs after S s at full load (default 60; 0 skips)
  --soak-scenario X   scenario for the leak check (default mixed20)
  --workers N         adds \`workers: N\` to Herald's config (node:cluster; needs --store redis)
  --store S           memory (default) or redis: the bench starts a redis-server on
                      127.0.0.1 for the run and points Herald's store at it
  --fcm-tls           serve the FCM mock over TLS: Herald then speaks HTTP/2 to it, as to
                      the real FCM (default: plain HTTP/1.1, as in the tests)
  --loader L          auto (wrk if installed, else autocannon), wrk or autocannon (default auto)
  --threads N         wrk threads (default 1: leaves the cores to Herald)
  --json FILE         also write the results as JSON (e.g. bench/results/<commit>.json)
  --profile           run Herald under node --cpu-prof, save one .cpuprofile per scenario
                      in --profile-dir and print the top functions by self time
                      (implies --soak 0 unless --soak is given)
  --profile-dir DIR   where profiles go (default bench/results)
  --set PATH=VALUE    an extra Herald config setting for experiments, repeatable, e.g.
                      --set store.dedup_max_entries=10000 --set apps.bench.apns.max_connections=4
                      (app ids contain dots: apps.<app id>.<key> is matched against the known apps)
  --help
`;

function positive(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number ≥ ${min}, got ${JSON.stringify(value)}`);
  return n;
}

function parseSetting(text: string): [string, unknown] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new Error(`--set wants PATH=VALUE, got ${JSON.stringify(text)}`);
  const raw = text.slice(eq + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // A bare string.
  }
  return [text.slice(0, eq), value];
}

/** Parses argv; throws with a message for bad input. Returns undefined for --help. */
export function parseOptions(argv: readonly string[]): BenchOptions | undefined {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      scenarios: { type: 'string' },
      json: { type: 'string' },
      soak: { type: 'string' },
      'soak-scenario': { type: 'string' },
      workers: { type: 'string' },
      store: { type: 'string' },
      'fcm-tls': { type: 'boolean' },
      loader: { type: 'string' },
      threads: { type: 'string' },
      profile: { type: 'boolean' },
      'profile-dir': { type: 'string' },
      set: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return undefined;
  const loader = values.loader ?? 'auto';
  if (loader !== 'auto' && loader !== 'wrk' && loader !== 'autocannon') throw new Error('--loader must be auto, wrk or autocannon');
  const scenarios = (values.scenarios ?? SCENARIOS.map((s) => s.name).join(','))
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean)
    .map((name) => scenario(name).name);
  if (scenarios.length === 0) throw new Error('--scenarios names none');
  const store = values.store ?? 'memory';
  if (store !== 'memory' && store !== 'redis') throw new Error('--store must be memory or redis');
  // Herald refuses several workers with the memory store: each would remember on its own.
  if (values.workers !== undefined && Number(values.workers) > 1 && store !== 'redis') throw new Error('--workers needs --store redis');
  const profile = values.profile ?? false;
  const soakScenario = scenario(values['soak-scenario'] ?? 'mixed20');
  if (soakScenario.target !== 'herald') throw new Error('--soak-scenario must be a Herald scenario');
  return {
    durationS: positive('duration', values.duration, 10),
    warmupS: positive('warmup', values.warmup, 5, 0),
    connections: Math.round(positive('connections', values.connections, 50)),
    scenarios,
    ...(values.json !== undefined ? { json: values.json } : {}),
    soakS: positive('soak', values.soak, profile ? 0 : 60, 0),
    soakScenario: soakScenario.name,
    ...(values.workers !== undefined ? { workers: Math.round(positive('workers', values.workers, 1)) } : {}),
    store,
    fcmTls: values['fcm-tls'] ?? false,
    loader,
    threads: Math.round(positive('threads', values.threads, 1)),
    profile,
    profileDir: values['profile-dir'] ?? 'bench/results',
    set: (values.set ?? []).map(parseSetting),
  };
}
