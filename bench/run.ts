import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { parseDocument } from 'yaml';
import { runLoad, wrkPath, type LoadResult } from './load';
import type { MocksInfo } from './mocks';
import { cpuMs, freePort, HOST, httpRequest, installExitHandlers, isStopping, limitRun, onExit, readJsonLine, rssBytes, RssSampler, spawnChild, stopChild, waitForHttp200 } from './procs';
import { formatRows, formatSummaries, median, MiB, slopeMiBPerMin, summarize, type Row, type Soak } from './report';
import { bodyParts, NOTIFY_PATH, SCENARIOS, scenario, APP_APNS, APP_FCM, APP_NOOP, type Scenario } from './scenarios';
import { RedisServer } from '../test/upstreams/redis-server';

/**
 * `npm run bench`: Herald's throughput, CPU and memory against the upstream mocks the tests
 * use and against a bare node:http server, everything on 127.0.0.1. See docs/performance.md.
 */

const ROOT = resolve(__dirname, '..', '..');
const USAGE = `npm run bench -- [options]       (or node dist/bench/run.js after npm run build)

  --scenarios a,b    which scenarios (default all but mixed2): ${SCENARIOS.map((s) => s.name).join(', ')}
  --duration S       measured seconds per scenario (10)
  --warmup S         seconds of load before each measurement, not counted (5)
  --connections N    connections of the load generator (50)
  --rounds N         run every scenario N times, builds alternating (1)
  --build NAME=DIR   a Herald checkout to measure (its DIR/dist/src/main.js), repeatable;
                     default: this repository. Builds alternate within each round.
  --node PATH        the node binary for Herald and the bare server (default: the bench's own)
  --node-arg ARG     a flag for Herald's node, repeatable (e.g. --node-arg=--cpu-prof)
  --soak S           after the scenarios, on the last build: S seconds of mixed2 at half its
                     measured maximum rate; prints the RSS slope after the first minute
                     (0: no soak; 600 for the 10-minute soak)
  --store S          memory (default) or redis (a redis-server the bench starts)
  --fcm-tls          FCM mock over TLS: Herald speaks HTTP/2 to it, as to the real FCM
  --json FILE        also write every row and figure as JSON
`;

interface Options {
  readonly scenarios: readonly Scenario[];
  readonly durationS: number;
  readonly warmupS: number;
  readonly connections: number;
  readonly rounds: number;
  readonly builds: ReadonlyArray<{ readonly name: string; readonly main: string }>;
  readonly node: string;
  readonly nodeArgs: readonly string[];
  readonly soakS: number;
  readonly store: 'memory' | 'redis';
  readonly fcmTls: boolean;
  readonly json?: string;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      scenarios: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      rounds: { type: 'string' },
      build: { type: 'string', multiple: true },
      node: { type: 'string' },
      'node-arg': { type: 'string', multiple: true },
      soak: { type: 'string' },
      store: { type: 'string' },
      'fcm-tls': { type: 'boolean' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) return undefined;
  const num = (name: string, value: string | undefined, fallback: number, min: number) => {
    const n = value === undefined ? fallback : Number(value);
    if (!(n >= min)) throw new Error(`--${name} must be a number ≥ ${min}`);
    return n;
  };
  const builds = (v.build ?? [`this=${ROOT}`]).map((b) => {
    const [name, dir] = b.split('=');
    const main = resolve(dir ?? '', 'dist', 'src', 'main.js');
    if (!name || !dir || !existsSync(main)) throw new Error(`--build ${b}: wants NAME=DIR with DIR/dist/src/main.js built`);
    return { name, main };
  });
  if (v.store !== undefined && v.store !== 'memory' && v.store !== 'redis') throw new Error('--store must be memory or redis');
  return {
    scenarios: (v.scenarios?.split(',') ?? SCENARIOS.map((s) => s.name).filter((n) => n !== 'mixed2')).map((n) => scenario(n.trim())),
    durationS: num('duration', v.duration, 10, 1),
    warmupS: num('warmup', v.warmup, 5, 0),
    connections: num('connections', v.connections, 50, 1),
    rounds: num('rounds', v.rounds, 1, 1),
    builds,
    node: v.node ? resolve(v.node) : process.execPath,
    nodeArgs: v['node-arg'] ?? [],
    soakS: num('soak', v.soak, 0, 0),
    store: v.store === 'redis' ? 'redis' : 'memory',
    fcmTls: v['fcm-tls'] ?? false,
    ...(v.json !== undefined ? { json: v.json } : {}),
  };
}

interface Run {
  readonly opts: Options;
  readonly tmp: string;
  readonly wrk: string | undefined;
  readonly mocks: MocksInfo;
  readonly redisUrl?: string;
  phase: number;
}

const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

function heraldConfig(run: Run, port: number, sc: Scenario): string {
  const { apns, fcm } = run.mocks;
  const config = {
    http: { port, bind_addresses: [HOST] },
    log: { level: 'warn' },
    ...(run.redisUrl !== undefined ? { store: { type: 'redis', url: run.redisUrl } } : {}),
    ...(sc.traced ? { tracing: { enabled: true, sample_ratio: 1, otlp_endpoint: run.mocks.otlpUrl } } : {}),
    apps: {
      [APP_NOOP]: { type: 'noop' },
      [APP_APNS]: { type: 'apns', keyfile: apns.keyFile, key_id: apns.keyId, team_id: apns.teamId, topic: 'com.example.app', platform: 'sandbox', endpoint: apns.url, ca_file: apns.caFile },
      [APP_FCM]: { type: 'gcm', project_id: fcm.projectId, service_account_file: fcm.serviceAccountFile, endpoint: fcm.url, ...(run.opts.fcmTls ? { ca_file: apns.caFile } : {}) },
    },
  };
  // JSON is YAML.
  return JSON.stringify(merge(config, sc.config ?? {}));
}

function merge(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const old = out[key];
    out[key] = typeof old === 'object' && old !== null && typeof value === 'object' && value !== null ? merge(old as Record<string, unknown>, value as Record<string, unknown>) : value;
  }
  return out;
}

/** The repository's config.sample.yaml on a free port, bound to 127.0.0.1. */
async function sampleConfig(port: number): Promise<string> {
  const doc = parseDocument(readFileSync(join(ROOT, 'config.sample.yaml'), 'utf8'));
  doc.setIn(['http', 'port'], port);
  doc.setIn(['http', 'bind_addresses'], doc.createNode([HOST]));
  if (doc.getIn(['metrics', 'prometheus', 'enabled']) === true) doc.setIn(['metrics', 'prometheus', 'port'], await freePort());
  return doc.toString();
}

/** Starts a Herald build on the configuration `configText` writes, and waits for its first 200 on /health. */
async function startHerald(run: Run, main: string, configText: (port: number) => string | Promise<string>) {
  const port = await freePort();
  const dir = join(run.tmp, `herald-${++run.phase}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'herald.yaml'), await configText(port));
  const logFd = openSync(join(dir, 'herald.log'), 'w');
  const started = performance.now();
  const child = spawnChild(run.opts.node, [...run.opts.nodeArgs, main, '--config', join(dir, 'herald.yaml')], { cwd: dir, stdio: ['ignore', logFd, 'pipe'] });
  closeSync(logFd);
  try {
    return { child, port, startupMs: await waitForHttp200(port, '/health', started, 30_000, child) };
  } catch (err) {
    await stopChild(child, 2_000);
    throw new Error(`Herald did not start: ${(err as Error).message}\n${child.output().stderr}`);
  }
}

async function startBare(run: Run) {
  const child = spawnChild(run.opts.node, [...run.opts.nodeArgs, join(__dirname, 'bare.js')]);
  const { port } = await readJsonLine<{ port: number }>(child, 30_000, 'the bare server');
  return { child, port };
}

function load(run: Run, port: number, sc: Scenario, durationS: number, rate?: number): Promise<LoadResult> {
  const spec = { port, path: NOTIFY_PATH, parts: bodyParts(sc.body), connections: run.opts.connections, durationS, nonce: `${randomBytes(4).toString('hex')}p${++run.phase}`, ...(rate ? { rate } : {}) };
  return runLoad(spec, run.tmp, run.wrk);
}

/** One request by hand: a misconfigured upstream shows here, not as a table of 502s. */
async function checkAnswer(port: number, sc: Scenario): Promise<void> {
  const { status, body } = await httpRequest(port, 'POST', NOTIFY_PATH, bodyParts(sc.body).join(`$bench-check-${randomBytes(4).toString('hex')}:example.org`));
  if (status !== 200 || body.replace(/\s/g, '') !== '{"rejected":[]}') throw new Error(`the check request was answered ${status} ${body.slice(0, 300)}`);
}

/** Warm-up, a pause for the warm-up's in-flight requests, then the measured phase. */
async function measure(run: Run, build: string, round: number, sc: Scenario, main: string): Promise<Row> {
  const target = sc.target === 'bare' ? { ...(await startBare(run)), startupMs: undefined } : await startHerald(run, main, (port) => heraldConfig(run, port, sc));
  const pid = target.child.pid as number;
  const sampler = new RssSampler(pid);
  try {
    await checkAnswer(target.port, sc);
    if (run.opts.warmupS > 0) await load(run, target.port, sc, run.opts.warmupS);
    await sleep(1_000);
    const cpuBefore = cpuMs(pid);
    const result = await load(run, target.port, sc, run.opts.durationS);
    const cpu = cpuMs(pid) - cpuBefore;
    sampler.sample();
    return {
      build,
      round,
      scenario: sc.name,
      devices: sc.devices,
      load: result,
      cpuMsPerReq: cpu / Math.max(1, result.requests),
      peakRssBytes: sampler.peak,
      ...(target.startupMs !== undefined ? { startupMs: target.startupMs } : {}),
      loadAvg: loadavg()[0] as number,
    };
  } finally {
    sampler.stop();
    await stopChild(target.child);
  }
}

/** Herald on config.sample.yaml, 2 s after its first 200 on /health, no request sent. */
async function idleRss(run: Run, main: string): Promise<number> {
  const herald = await startHerald(run, main, sampleConfig);
  await sleep(2_000);
  const rss = rssBytes(herald.child.pid as number);
  await stopChild(herald.child);
  return rss;
}

async function soak(run: Run, build: { name: string; main: string }): Promise<Soak> {
  const sc = scenario('mixed2');
  const herald = await startHerald(run, build.main, (port) => heraldConfig(run, port, sc));
  const pid = herald.child.pid as number;
  try {
    await checkAnswer(herald.port, sc);
    const maxRate = (await load(run, herald.port, sc, Math.max(10, run.opts.warmupS))).rps;
    await sleep(1_000);
    const trajectory: Array<{ tS: number; rssBytes: number }> = [];
    const started = performance.now();
    const every = setInterval(() => trajectory.push({ tS: Math.round((performance.now() - started) / 1000), rssBytes: rssBytes(pid) }), 5_000);
    const result = await load(run, herald.port, sc, run.opts.soakS, maxRate / 2).finally(() => clearInterval(every));
    const fromS = Math.min(60, Math.floor(run.opts.soakS / 3));
    return { build: build.name, maxRate, rate: maxRate / 2, load: result, trajectory, fromS, slopeMiBPerMin: slopeMiBPerMin(trajectory, fromS) };
  } finally {
    await stopChild(herald.child);
  }
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  if (!opts) {
    console.log(USAGE);
    return 0;
  }
  installExitHandlers();
  const phases = opts.rounds * opts.scenarios.length * opts.builds.length * (opts.warmupS + opts.durationS + 30);
  limitRun(phases + opts.builds.length * 3 * 35 + (opts.soakS ? opts.soakS + 120 : 0) + 120);
  const tmp = mkdtempSync(join(tmpdir(), 'herald-bench-'));
  onExit(() => rmSync(tmp, { recursive: true, force: true }));
  const mocksChild = spawnChild(process.execPath, [join(__dirname, 'mocks.js'), ...(opts.fcmTls ? ['--fcm-tls'] : [])]);
  const mocks = await readJsonLine<MocksInfo>(mocksChild, 30_000, 'the mocks');
  const redis = opts.store === 'redis' ? await RedisServer.start() : undefined;
  const run: Run = { opts, tmp, wrk: wrkPath(), mocks, ...(redis ? { redisUrl: redis.url } : {}), phase: 0 };

  const node = execFileSync(opts.node, ['--version'], { encoding: 'utf8' }).trim();
  console.log(`Herald benchmark: node ${node} (${opts.node}${opts.nodeArgs.length ? ` ${opts.nodeArgs.join(' ')}` : ''}), builds ${opts.builds.map((b) => `${b.name}=${b.main}`).join(', ')}`);
  console.log(`load: ${run.wrk ? 'wrk (1 thread)' : 'autocannon'}, ${opts.connections} connections, ${opts.warmupS} s warm-up + ${opts.durationS} s per scenario, ${opts.rounds} round(s); store ${opts.store}; load average before ${loadavg().map((n) => n.toFixed(2)).join(' ')}`);

  const idle = new Map<string, number[]>(opts.builds.map((b) => [b.name, []]));
  for (let i = 0; i < 3 && !isStopping(); i++) for (const b of opts.builds) idle.get(b.name)?.push(await idleRss(run, b.main));
  for (const [name, samples] of idle) log(`idle RSS ${name}: ${samples.map((b) => (b / MiB).toFixed(1)).join(', ')} MiB`);

  const rows: Row[] = [];
  let failures = 0;
  for (let round = 0; round < opts.rounds; round++) {
    for (const sc of opts.scenarios) {
      // The bare server is the same for every build: measured once per round.
      for (const b of sc.target === 'bare' ? [{ name: 'bare', main: '' }] : opts.builds) {
        if (isStopping()) return 130;
        try {
          const row = await measure(run, b.name, round, sc, b.main);
          rows.push(row);
          log(`${b.name} ${sc.name}: ${row.load.rps.toFixed(0)} req/s, ${row.cpuMsPerReq.toFixed(3)} CPU ms/req, peak ${(row.peakRssBytes / MiB).toFixed(1)} MiB, ${row.load.failed} failed`);
        } catch (err) {
          failures++;
          log(`${b.name} ${sc.name} failed: ${(err as Error).message}`);
        }
      }
    }
  }
  // The last build is the one under test when several are compared.
  const soakBuild = opts.builds[opts.builds.length - 1];
  const soakResult = opts.soakS > 0 && soakBuild ? await soak(run, soakBuild) : undefined;
  const summaries = opts.builds.map((b) => summarize(b.name, rows, idle.get(b.name) ?? []));
  const startups = rows.flatMap((r) => (r.startupMs === undefined ? [] : [r.startupMs]));

  console.log(`\n${formatRows(rows)}\n`);
  if (startups.length) console.log(`start-up (spawn → first 200 on /health): median ${median(startups).toFixed(0)} ms, max ${Math.max(...startups).toFixed(0)} ms`);
  console.log(formatSummaries(summaries, soakResult));
  console.log(`load average after: ${loadavg().map((n) => n.toFixed(2)).join(' ')}`);
  if (opts.json) writeFileSync(resolve(opts.json), `${JSON.stringify({ node, date: new Date().toISOString(), rows, idle: Object.fromEntries(idle), summaries, soak: soakResult }, null, 2)}\n`);
  await stopChild(mocksChild);
  await redis?.stop();
  return failures > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
