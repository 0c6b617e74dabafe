import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseDocument } from 'yaml';
import type { LoadResult, LoadSpec } from './loader';
import type { MockRoundTripResult, MockRoundTripSpec } from './mock-rtt';
import type { MocksInfo } from './mocks';
import { parseOptions, USAGE, type BenchOptions } from './options';
import { formatSummary, readProfile, summarize } from './profile-summary';
import {
  collectOutput,
  CpuWatch,
  freePort,
  HOST,
  httpPost,
  installExitHandlers,
  isStopping,
  killAll,
  onExit,
  processTree,
  procStatusBytes,
  readJsonLine,
  RssSampler,
  spawnChild,
  stopChild,
  waitForExit,
  waitForHttp200,
} from './procs';
import {
  evaluateTargets,
  formatCpuTable,
  formatTable,
  formatTargets,
  MB,
  median,
  type BenchReport,
  type IdleRssResult,
  type ScenarioResult,
  type SoakResult,
} from './report';
import { RedisServer } from '../test/upstreams/redis-server';
import { APP_APNS, APP_FCM, APP_NOOP, bodyParts, NOTIFY_PATH, scenario, type Scenario } from './scenarios';
import { measureStoreMemory, type StoreMemoryResult } from './store-memory';
import { runWrk, wrkPath } from './wrk';

/**
 * `npm run bench`: Herald's throughput, latency, memory and start-up against the same
 * mock upstreams the tests use, everything on 127.0.0.1. See docs/performance.md.
 *
 * Processes: this one (orchestration, RSS sampling), the mocks (bench/mocks.ts), Herald
 * from dist/ (a fresh one per scenario, and three on config.sample.yaml for the idle RSS),
 * the ceiling server (bench/ceiling.ts), the load generator (wrk, or autocannon in
 * bench/load.ts) and, before apns_1conn, node-apn alone against the APNs mock
 * (bench/mock-rtt.ts). Every child is stopped on exit,
 * error or Ctrl-C, and every wait is bounded.
 */

const ROOT = resolve(__dirname, '..', '..');
const HERALD_BIN = join(ROOT, 'dist', 'src', 'main.js');
const BENCH_DIR = __dirname;
/** Start-up (and any single wait for a child) may not take longer than this. */
const START_TIMEOUT_MS = 30_000;
/** The repository's sample configuration, whose idle memory is a target. */
const SAMPLE_CONFIG = join(ROOT, 'config.sample.yaml');
/** Idle RSS: Herald starts on the sample this many times and sits this long without requests before VmRSS is read. */
const IDLE_RSS_STARTS = 3;
const IDLE_MS = 2_000;

interface Context {
  readonly opts: BenchOptions;
  readonly tmp: string;
  readonly runId: string;
  readonly loader: { readonly kind: 'wrk'; readonly path: string } | { readonly kind: 'autocannon' };
  readonly mocks?: MocksInfo;
  /** The redis-server Herald's store uses (--store redis). */
  readonly redisUrl?: string;
  phase: number;
  /** Set after the first Herald start when --workers was asked for. */
  workersNote?: string;
  workersAccepted: boolean;
  readonly startups: number[];
}

interface RunningHerald {
  readonly child: ChildProcess;
  readonly port: number;
  readonly startupMs: number;
  readonly logFile: string;
  readonly profileDir?: string;
  stderr(): string;
}

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return match?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function gitCommit(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${commit}+dirty` : commit;
  } catch {
    return 'unknown';
  }
}

async function startMocks(fcmTls: boolean): Promise<{ child: ChildProcess; info: MocksInfo }> {
  const child = spawnChild(process.execPath, [join(BENCH_DIR, 'mocks.js'), ...(fcmTls ? ['--fcm-tls'] : [])], { stdio: ['pipe', 'pipe', 'pipe'] });
  const output = collectOutput(child);
  const info = await readJsonLine<MocksInfo>(child, START_TIMEOUT_MS, 'mocks');
  // The scenarios after this one would fail in confusing ways: say so at once.
  child.once('exit', (code, signal) => {
    if (!stoppingMocks && !isStopping()) log(`the mocks process exited early (code ${code}, signal ${signal}): ${output.stderr().slice(-2_000)}`);
  });
  return { child, info };
}
let stoppingMocks = false;

function heraldConfig(ctx: Context, port: number, logLevel: string): Record<string, unknown> {
  const apps: Record<string, unknown> = { [APP_NOOP]: { type: 'noop' } };
  const { mocks } = ctx;
  if (mocks) {
    apps[APP_APNS] = {
      type: 'apns',
      keyfile: mocks.apns.keyFile,
      key_id: mocks.apns.keyId,
      team_id: mocks.apns.teamId,
      topic: 'com.example.app',
      platform: 'sandbox',
      endpoint: mocks.apns.url,
      ca_file: mocks.apns.caFile,
    };
    apps[APP_FCM] = {
      type: 'gcm',
      project_id: mocks.fcm.projectId,
      service_account_file: mocks.fcm.serviceAccountFile,
      endpoint: mocks.fcm.url,
      ...(ctx.opts.fcmTls ? { ca_file: mocks.apns.caFile } : {}),
    };
  }
  const config: Record<string, unknown> = {
    http: { port, bind_addresses: ['127.0.0.1'] },
    log: { level: logLevel },
    ...(ctx.opts.workers !== undefined && ctx.workersAccepted ? { workers: ctx.opts.workers } : {}),
    ...(ctx.redisUrl !== undefined ? { store: { type: 'redis', url: ctx.redisUrl } } : {}),
    apps,
  };
  for (const [path, value] of ctx.opts.set) applySetting(config, path, value);
  return config;
}

/** Sets `path` (dots between keys; an app id under `apps` may itself contain dots) in `config`. */
function applySetting(config: Record<string, unknown>, path: string, value: unknown): void {
  let keys = path.split('.');
  if (keys[0] === 'apps') {
    const apps = config.apps as Record<string, unknown>;
    const rest = path.slice('apps.'.length);
    const app = Object.keys(apps).find((id) => rest.startsWith(`${id}.`));
    if (!app) throw new Error(`--set ${path}: no such app (known: ${Object.keys(apps).join(', ')})`);
    keys = ['apps', app, ...rest.slice(app.length + 1).split('.')];
  }
  let node = config;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1] as string] = value;
}

/** Herald's JSON log lines (only those matching `filter`, when given: an info log can be large). */
function readLogLines(logFile: string, filter?: RegExp): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  let text = '';
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return lines;
  }
  for (const raw of text.split('\n')) {
    if (!raw.startsWith('{') || (filter && !filter.test(raw))) continue;
    try {
      lines.push(JSON.parse(raw) as Record<string, unknown>);
    } catch {
      // A partial last line.
    }
  }
  return lines;
}

/** Warn/error lines in Herald's log file (JSON lines; pino levels 40 and up). */
function heraldWarnings(logFile: string): { count: number; first?: string; lines: Array<Record<string, unknown>> } {
  // Config warnings at start-up (`config` field) are not the scenario's doing.
  const lines = readLogLines(logFile, /"level":[4-6]0/).filter((line) => Number(line.level) >= 40 && line.config === undefined);
  const first = lines[0];
  return { count: lines.length, lines, ...(first ? { first: describeLine(first) } : {}) };
}

/** A log line's message with the fields that say why (error, why), for the report. */
function describeLine(line: Record<string, unknown>): string {
  const why = line.error ?? line.why ?? (line.err as { message?: unknown } | undefined)?.message;
  return why === undefined ? String(line.msg) : `${String(line.msg)}: ${String(why)}`;
}

/**
 * Starts Herald in a fresh directory under the run's temp dir, on a free port, with the
 * configuration `configText(port)` writes, and waits for its first 200 on /health. On
 * failure the process is stopped and the error carries its stderr.
 */
async function launchHerald(ctx: Context, label: string, configText: (port: number) => string | Promise<string>, profile = false): Promise<RunningHerald> {
  const port = await freePort();
  const dir = join(ctx.tmp, `herald-${++ctx.phase}-${label}`);
  mkdirSync(dir);
  const configFile = join(dir, 'herald.yaml');
  writeFileSync(configFile, await configText(port));
  const logFile = join(dir, 'herald.log');
  const logFd = openSync(logFile, 'w');
  const profileDir = profile ? join(dir, 'profile') : undefined;
  const nodeArgs = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const started = performance.now();
  const child = spawnChild(process.execPath, [...nodeArgs, HERALD_BIN, '--config', configFile], { cwd: dir, stdio: ['ignore', logFd, 'pipe'] });
  closeSync(logFd);
  const output = collectOutput(child);
  try {
    const startupMs = await waitForHttp200(port, '/health', started, START_TIMEOUT_MS, child);
    return { child, port, startupMs, logFile, ...(profileDir ? { profileDir } : {}), stderr: output.stderr };
  } catch (err) {
    await stopChild(child, 2_000);
    throw Object.assign(new Error(`Herald did not start: ${(err as Error).message}\n${output.stderr()}`), { stderr: output.stderr() });
  }
}

/** Herald on the bench's configuration for a scenario; retried without `workers` if Herald refuses them. */
async function startHerald(ctx: Context, logLevel: string, label: string): Promise<RunningHerald> {
  for (;;) {
    try {
      // JSON is YAML.
      const herald = await launchHerald(ctx, label, (port) => JSON.stringify(heraldConfig(ctx, port, logLevel), null, 2), ctx.opts.profile);
      if (ctx.opts.workers !== undefined && ctx.workersAccepted && ctx.workersNote === undefined) {
        const ignored = readLogLines(herald.logFile).some((line) => /workers/.test(JSON.stringify(line)) && /unknown key/.test(String(line.msg)));
        ctx.workersNote = ignored
          ? `Herald ignored \`workers: ${ctx.opts.workers}\` (unknown key): measured with one process`
          : `Herald accepted \`workers: ${ctx.opts.workers}\` (node:cluster: a primary and ${ctx.opts.workers} workers; RSS is their sum)`;
      }
      return herald;
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr ?? '';
      if (ctx.opts.workers !== undefined && ctx.workersAccepted && /workers/.test(stderr)) {
        ctx.workersAccepted = false;
        ctx.workersNote = `Herald refused \`workers: ${ctx.opts.workers}\` (${stderr.trim().split('\n')[0]}): measured without it`;
        log(ctx.workersNote);
        continue;
      }
      throw err;
    }
  }
}

/** Throws if Herald is no longer running (it crashed or was killed mid-phase). */
function checkAlive(herald: RunningHerald | undefined, label: string): void {
  const child = herald?.child;
  if (!child || (child.exitCode === null && child.signalCode === null)) return;
  const logged = heraldWarnings(herald.logFile).lines.filter((line) => Number(line.level) >= 50).map((line) => String(line.msg));
  throw new Error(
    `Herald exited during ${label} (code ${child.exitCode}, signal ${child.signalCode})${logged.length ? `; it logged: ${logged.slice(0, 3).join(' | ')}` : ''}; stderr: ${herald.stderr().slice(-1_000)}`,
  );
}

/** Stops Herald (SIGTERM: it finishes in-flight requests), then files its profile if it wrote one. */
async function stopHerald(herald: RunningHerald, ctx: Context, label: string): Promise<string | undefined> {
  const code = await stopChild(herald.child, 15_000);
  if (code !== 0) log(`Herald (${label}) exited with code ${code}: ${herald.stderr().slice(-2_000)}`);
  if (!herald.profileDir || !existsSync(herald.profileDir)) return undefined;
  const files = readdirSync(herald.profileDir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) return undefined;
  mkdirSync(ctx.opts.profileDir, { recursive: true });
  const saved: string[] = [];
  files.forEach((file, i) => {
    const target = join(ctx.opts.profileDir, `${label}-${ctx.runId}${files.length > 1 ? `-${i + 1}` : ''}.cpuprofile`);
    copyFileSync(join(herald.profileDir as string, file), target);
    saved.push(target);
  });
  return saved.join(', ');
}

async function runLoad(ctx: Context, port: number, sc: Scenario, durationS: number, onSpawn?: (pid: number) => void): Promise<LoadResult> {
  const spec: LoadSpec = {
    port,
    path: NOTIFY_PATH,
    parts: bodyParts(sc.body),
    connections: sc.connections ?? ctx.opts.connections,
    durationS,
    nonce: `${ctx.runId}p${++ctx.phase}`,
    threads: ctx.opts.threads,
  };
  if (ctx.loader.kind === 'wrk') return runWrk(ctx.loader.path, spec, ctx.tmp, onSpawn);
  const child = spawnChild(process.execPath, [join(BENCH_DIR, 'load.js'), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid !== undefined) onSpawn?.(child.pid);
  return readJsonLine<LoadResult>(child, (durationS + 60) * 1000, 'autocannon');
}

/**
 * Requests of a finished phase may still be in flight in Herald (the generator closed
 * their connections, Herald still sends them): let them finish before the next phase,
 * so it does not start with twice the load.
 */
async function drain(previous: LoadResult): Promise<void> {
  await sleep(Math.min(15_000, 2 * previous.latencyMs.max + 250));
}

/** Measures one phase, recording who used the CPU meanwhile. */
async function measure(ctx: Context, port: number, targetPid: number, sc: Scenario, durationS: number): Promise<{ load: LoadResult; cpu: Record<string, number> }> {
  let loaderPid: number | undefined;
  const watch = new CpuWatch();
  watch.watch(sc.target === 'ceiling' ? 'ceiling' : 'herald', () => targetPid);
  if (ctx.mocks) watch.watch('mocks', () => ctx.mocks?.pid);
  watch.watch('loader', () => loaderPid);
  try {
    const load = await runLoad(ctx, port, sc, durationS, (pid) => (loaderPid = pid));
    return { load, cpu: watch.stop() };
  } catch (err) {
    watch.stop();
    throw err;
  }
}

/** One request by hand before loading: a misconfigured upstream shows here, not as a table of 502s. */
async function checkAnswer(port: number, sc: Scenario): Promise<void> {
  const { status, body } = await httpPost(port, NOTIFY_PATH, bodyParts(sc.body).join(`$bench-check-${randomBytes(4).toString('hex')}:example.org`));
  if (status !== 200 || body.replace(/\s/g, '') !== '{"rejected":[]}') throw new Error(`check request answered ${status} ${body.slice(0, 300)}`);
}

async function startCeiling(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawnChild(process.execPath, [join(BENCH_DIR, 'ceiling.js')], { stdio: ['pipe', 'pipe', 'pipe'] });
  const { port } = await readJsonLine<{ port: number }>(child, START_TIMEOUT_MS, 'ceiling server');
  return { child, port };
}

/** The mock round trip's own warm-up: long enough for node-apn's connection, its JWT and the JIT. */
function mockRoundTripWarmupS(ctx: Context): number {
  return Math.min(2, Math.max(1, ctx.opts.warmupS));
}

/**
 * The APNs mock's round trip with node-apn alone, one send at a time (bench/mock-rtt.ts in
 * its own process), for the scenario's duration after a short warm-up of its own.
 */
async function measureMockRoundTrip(ctx: Context): Promise<MockRoundTripResult> {
  const apns = ctx.mocks?.apns;
  if (!apns) throw new Error('the mocks are not running');
  const spec: MockRoundTripSpec = { ...apns, warmupS: mockRoundTripWarmupS(ctx), durationS: ctx.opts.durationS };
  const child = spawnChild(process.execPath, [join(BENCH_DIR, 'mock-rtt.js'), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const result = await readJsonLine<MockRoundTripResult>(child, (spec.warmupS + spec.durationS + 60) * 1000, 'mock round trip');
  await waitForExit(child, 10_000);
  return result;
}

async function runScenario(ctx: Context, sc: Scenario): Promise<ScenarioResult> {
  const base = {
    name: sc.name,
    description: sc.description,
    target: sc.target,
    devices: sc.devices,
    logLevel: sc.target === 'herald' ? (sc.logLevel ?? 'warn') : '-',
    connections: sc.connections ?? ctx.opts.connections,
  };
  let child: ChildProcess;
  let port: number;
  let herald: RunningHerald | undefined;
  try {
    if (sc.target === 'ceiling') {
      ({ child, port } = await startCeiling());
    } else {
      herald = await startHerald(ctx, sc.logLevel ?? 'warn', sc.name);
      ({ child, port } = herald);
      ctx.startups.push(herald.startupMs);
    }
  } catch (err) {
    return { ...base, error: (err as Error).message };
  }
  const sampler = new RssSampler(child.pid as number);
  try {
    await checkAnswer(port, sc);
    if (ctx.opts.warmupS > 0) await drain(await runLoad(ctx, port, sc, ctx.opts.warmupS));
    checkAlive(herald, `${sc.name} warm-up`);
    // Right before the measurement and not during it: the two would share the mock and the cores.
    let mockRoundTrip: { mockRoundTrip: MockRoundTripResult } | { mockRoundTripError: string } | undefined;
    if (sc.mockRoundTrip) {
      log(`  APNs mock round trip: node-apn alone, one send at a time, ${mockRoundTripWarmupS(ctx)} s warm-up + ${ctx.opts.durationS} s`);
      try {
        const rtt = await measureMockRoundTrip(ctx);
        mockRoundTrip = { mockRoundTrip: rtt };
        log(`  ${rtt.n} sends, p50 ${rtt.p50.toFixed(2)} ms, p99 ${rtt.p99.toFixed(2)} ms, max ${rtt.max.toFixed(2)} ms`);
      } catch (err) {
        mockRoundTrip = { mockRoundTripError: (err as Error).message };
        log(`  the mock round trip failed: ${(err as Error).message}`);
      }
      checkAlive(herald, `${sc.name} (during the mock round trip)`);
    }
    const rssAfterWarmupBytes = sampler.sample();
    const { load, cpu } = await measure(ctx, port, child.pid as number, sc, ctx.opts.durationS);
    checkAlive(herald, sc.name);
    sampler.sample();
    const processes = sampler.processes;
    const peakRssBytes = processes === 1 ? Math.max(sampler.peak, sampler.highWaterMark()) : sampler.peak;
    sampler.stop();
    let profile: string | undefined;
    let warnings: { count: number; first?: string } = { count: 0 };
    if (herald) {
      profile = await stopHerald(herald, ctx, sc.name);
      warnings = heraldWarnings(herald.logFile);
    } else {
      await stopChild(child);
    }
    return {
      ...base,
      load,
      rps: load.rps,
      devicesPerS: load.rps * sc.devices,
      rssAfterWarmupBytes,
      peakRssBytes,
      processes,
      cpu,
      ...(herald ? { startupMs: herald.startupMs, heraldWarnings: warnings.count, ...(warnings.first ? { firstWarning: warnings.first } : {}) } : {}),
      ...(profile ? { profile } : {}),
      ...mockRoundTrip,
    };
  } catch (err) {
    sampler.stop();
    if (herald) await stopHerald(herald, ctx, sc.name);
    else await stopChild(child);
    const warnings = herald ? heraldWarnings(herald.logFile) : undefined;
    return { ...base, error: `${(err as Error).message}${warnings?.first ? ` (Herald logged: ${warnings.first})` : ''}` };
  }
}

/**
 * The repository's config.sample.yaml for a bench run: its HTTP port replaced by `port` and
 * bound to 127.0.0.1, and a metrics listener (if the sample turns one on) moved to a free
 * port. The sample's apps name no files (a relative path would resolve against the copy's
 * temp dir and fail the start, loudly).
 */
async function sampleConfig(port: number): Promise<string> {
  const doc = parseDocument(readFileSync(SAMPLE_CONFIG, 'utf8'));
  if (doc.errors.length > 0) throw new Error(`${SAMPLE_CONFIG}: ${doc.errors[0]?.message}`);
  doc.setIn(['http', 'port'], port);
  doc.setIn(['http', 'bind_addresses'], doc.createNode([HOST]));
  if (doc.getIn(['metrics', 'prometheus', 'enabled']) === true) {
    doc.setIn(['metrics', 'prometheus', 'port'], await freePort());
    doc.setIn(['metrics', 'prometheus', 'address'], HOST);
  }
  return doc.toString();
}

/**
 * Idle RSS: Herald started on config.sample.yaml, left without a request for IDLE_MS, then
 * VmRSS summed over its process tree; the median of IDLE_RSS_STARTS starts. These starts
 * are not counted in the start-up figure (a different configuration from the scenarios').
 */
async function measureIdleRss(ctx: Context): Promise<IdleRssResult> {
  const samplesBytes: number[] = [];
  const startupsMs: number[] = [];
  let processes = 0;
  for (let i = 0; i < IDLE_RSS_STARTS && !isStopping(); i++) {
    const herald = await launchHerald(ctx, 'idle', sampleConfig);
    try {
      startupsMs.push(herald.startupMs);
      await sleep(IDLE_MS);
      checkAlive(herald, 'the idle RSS measurement');
      const tree = processTree(herald.child.pid as number);
      processes = tree.length;
      samplesBytes.push(tree.reduce((sum, pid) => sum + (procStatusBytes(pid, 'VmRSS') ?? 0), 0));
    } finally {
      await stopChild(herald.child, 5_000);
    }
  }
  if (samplesBytes.length === 0) throw new Error('idle RSS: no start finished');
  return { config: 'config.sample.yaml', idleMs: IDLE_MS, samplesBytes, medianBytes: median(samplesBytes), processes, startupsMs: startupsMs.map((ms) => Math.round(ms)) };
}

async function runSoak(ctx: Context): Promise<SoakResult> {
  const sc = scenario(ctx.opts.soakScenario);
  const herald = await startHerald(ctx, sc.logLevel ?? 'warn', `soak-${sc.name}`);
  ctx.startups.push(herald.startupMs);
  const sampler = new RssSampler(herald.child.pid as number);
  try {
    await checkAnswer(herald.port, sc);
    const warmupS = Math.max(ctx.opts.warmupS, 5);
    await drain(await runLoad(ctx, herald.port, sc, warmupS));
    checkAlive(herald, 'the leak check warm-up');
    const rssAfterWarmupBytes = sampler.sample();
    const trajectory: Array<{ tS: number; rssBytes: number }> = [{ tS: 0, rssBytes: rssAfterWarmupBytes }];
    const started = performance.now();
    const every = setInterval(() => trajectory.push({ tS: Math.round((performance.now() - started) / 1000), rssBytes: sampler.sample() }), 10_000);
    let load: LoadResult;
    try {
      load = await runLoad(ctx, herald.port, sc, ctx.opts.soakS);
    } finally {
      clearInterval(every);
    }
    checkAlive(herald, 'the leak check');
    const rssAfterSoakBytes = sampler.sample();
    trajectory.push({ tS: Math.round((performance.now() - started) / 1000), rssBytes: rssAfterSoakBytes });
    const peakRssBytes = sampler.processes === 1 ? Math.max(sampler.peak, sampler.highWaterMark()) : sampler.peak;
    return {
      scenario: sc.name,
      warmupS,
      soakS: ctx.opts.soakS,
      rssAfterWarmupBytes,
      rssAfterSoakBytes,
      growthPct: (100 * (rssAfterSoakBytes - rssAfterWarmupBytes)) / rssAfterWarmupBytes,
      peakRssBytes,
      trajectory,
      load,
    };
  } finally {
    sampler.stop();
    await stopHerald(herald, ctx, `soak-${sc.name}`);
  }
}

function chooseLoader(opts: BenchOptions): Context['loader'] {
  const wrk = opts.loader === 'autocannon' ? undefined : wrkPath();
  if (opts.loader === 'wrk' && !wrk) throw new Error('--loader wrk: wrk is not installed (Debian: apt-get install wrk)');
  return wrk ? { kind: 'wrk', path: wrk } : { kind: 'autocannon' };
}

async function main(): Promise<number> {
  let opts: BenchOptions | undefined;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (!opts) {
    console.log(USAGE);
    return 0;
  }
  if (!existsSync(HERALD_BIN)) throw new Error(`${HERALD_BIN} is missing: run npm run build (npm run bench does it)`);
  installExitHandlers((reason) => log(`${reason}: stopping every child process`));

  const tmp = mkdtempSync(join(tmpdir(), 'herald-bench-'));
  onExit(() => rmSync(tmp, { recursive: true, force: true }));
  const scenarios = opts.scenarios.map(scenario);
  const needsHerald = scenarios.some((s) => s.target === 'herald') || opts.soakS > 0;

  // A bound on the whole run, whatever goes wrong: every phase plus generous slack.
  const phases =
    scenarios.length * (opts.warmupS + opts.durationS + 60) +
    scenarios.filter((s) => s.mockRoundTrip).length * (2 + opts.durationS + 30) +
    (needsHerald ? IDLE_RSS_STARTS * 15 : 0) +
    (opts.soakS > 0 ? opts.soakS + opts.warmupS + 90 : 0) +
    120;
  setTimeout(() => {
    log(`the run took longer than ${phases} s: giving up`);
    killAll('SIGTERM');
    setTimeout(() => process.exit(1), 2_000).unref();
  }, phases * 1000).unref();

  const loader = chooseLoader(opts);
  const loadAverageBefore = loadavg().map((n) => Math.round(n * 100) / 100);
  const meta = {
    date: new Date().toISOString(),
    commit: gitCommit(),
    node: process.version,
    cpus: availableParallelism(),
    cpuModel: cpuModel(),
    loader: loader.kind === 'wrk' ? `wrk (${loader.path}, ${opts.threads} thread${opts.threads > 1 ? 's' : ''})` : 'autocannon (Node, own process)',
    connections: opts.connections,
    durationS: opts.durationS,
    warmupS: opts.warmupS,
    ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
    store: opts.store,
    ...(opts.set.length > 0 ? { settings: Object.fromEntries(opts.set) } : {}),
  };
  console.log(`Herald benchmark — commit ${meta.commit}, node ${meta.node}, ${meta.cpus} CPUs (${meta.cpuModel})`);
  const ownConnections = scenarios.filter((s) => s.connections !== undefined).map((s) => `${s.name}: ${s.connections}`);
  console.log(
    `load generator: ${meta.loader}; ${opts.connections} connections${ownConnections.length > 0 ? ` (${ownConnections.join(', ')})` : ''}; ${opts.warmupS} s warm-up + ${opts.durationS} s measured per scenario`,
  );
  console.log(`load average before: ${loadAverageBefore.join(' ')} (other work on the machine skews every number)`);
  if (opts.set.length > 0) console.log(`extra Herald settings: ${opts.set.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}`);
  if (opts.profile) console.log('profiling: Herald runs under node --cpu-prof (slower than unprofiled)');
  if (opts.fcmTls) console.log('FCM mock over TLS: Herald speaks HTTP/2 to it');
  console.log(`Herald's store: ${opts.store}${opts.store === 'redis' ? ' (a redis-server on 127.0.0.1 started for the run)' : ''}`);
  console.log('');

  const mocks = needsHerald ? await startMocks(opts.fcmTls) : undefined;
  const redis = needsHerald && opts.store === 'redis' ? await RedisServer.start() : undefined;
  const ctx: Context = {
    opts,
    tmp,
    runId: randomBytes(4).toString('hex'),
    loader,
    ...(mocks ? { mocks: mocks.info } : {}),
    ...(redis ? { redisUrl: redis.url } : {}),
    phase: 0,
    workersAccepted: true,
    startups: [],
  };
  if (ctx.mocks) log(`mocks ready: APNs ${ctx.mocks.apns.url}, FCM ${ctx.mocks.fcm.url}`);

  // First, while nothing else of the run is busy.
  let idleRss: IdleRssResult | undefined;
  if (needsHerald) {
    log(`idle RSS: Herald on config.sample.yaml, ${IDLE_RSS_STARTS} starts, ${IDLE_MS / 1000} s without requests each`);
    try {
      idleRss = await measureIdleRss(ctx);
      log(`  ${idleRss.samplesBytes.map((b) => (b / MB).toFixed(1)).join(', ')} MB`);
    } catch (err) {
      log(`idle RSS failed: ${(err as Error).message}`);
    }
  }

  const results: ScenarioResult[] = [];
  for (const sc of scenarios) {
    if (isStopping()) break;
    log(`scenario ${sc.name}: ${sc.description}`);
    const result = await runScenario(ctx, sc);
    if (isStopping()) break;
    results.push(result);
    if (result.error) log(`scenario ${sc.name} failed: ${result.error}`);
    else log(`  ${result.rps?.toFixed(0)} req/s, p99 ${result.load?.latencyMs.p99} ms, ${result.load?.non2xx} non-2xx, peak RSS ${((result.peakRssBytes ?? 0) / MB).toFixed(1)} MB`);
    await sleep(500);
  }
  const ceiling = results.find((r) => r.name === 'ceiling' && r.rps);
  if (ceiling?.rps) for (const r of results) if (r.rps !== undefined) r.pctOfCeiling = (100 * r.rps) / ceiling.rps;

  if (isStopping()) return 130;
  let soak: SoakResult | undefined;
  if (opts.soakS > 0) {
    log(`leak check: ${opts.soakScenario} for ${opts.soakS} s at full load after a warm-up`);
    try {
      soak = await runSoak(ctx);
    } catch (err) {
      log(`leak check failed: ${(err as Error).message}`);
    }
  }

  log('memory store: filling 100000 rejections and 100000 deliveries');
  let storeMemory: StoreMemoryResult | undefined;
  try {
    storeMemory = measureStoreMemory();
  } catch (err) {
    log((err as Error).message);
  }

  const startup = ctx.startups.length > 0 ? { samplesMs: ctx.startups.map((ms) => Math.round(ms)), medianMs: median(ctx.startups), maxMs: Math.max(...ctx.startups) } : undefined;
  const targets = evaluateTargets(results, startup, soak, storeMemory, idleRss);
  const report: BenchReport = {
    meta: {
      ...meta,
      ...(ctx.workersNote ? { workersNote: ctx.workersNote } : {}),
      loadAverageBefore,
      loadAverageAfter: loadavg().map((n) => Math.round(n * 100) / 100),
      profiled: opts.profile,
    },
    scenarios: results,
    ...(startup ? { startup } : {}),
    ...(soak ? { soak } : {}),
    ...(storeMemory ? { storeMemory } : {}),
    ...(idleRss ? { idleRss } : {}),
    targets,
  };

  console.log(formatTable(results));
  console.log('');
  console.log('CPU during each measurement, % of one core (approximate; "other" is everything else on the machine):');
  console.log(formatCpuTable(results));
  console.log('');
  if (ceiling?.rps) {
    const noop = results.find((r) => r.name === 'noop' && r.rps);
    if (noop?.pctOfCeiling !== undefined) console.log(`Herald noop: ${noop.pctOfCeiling.toFixed(1)} % of the bare node:http ceiling (${noop.rps?.toFixed(0)} of ${ceiling.rps.toFixed(0)} req/s)`);
    const info = results.find((r) => r.name === 'noop_info' && r.rps);
    if (noop?.rps && info?.rps) {
      console.log(`log.level info instead of warn (noop): ${info.rps.toFixed(0)} vs ${noop.rps.toFixed(0)} req/s (${((100 * (info.rps - noop.rps)) / noop.rps).toFixed(1)} %)`);
    }
  }
  if (startup) console.log(`start-up (spawn → first 200 on /health): median ${startup.medianMs.toFixed(0)} ms, max ${startup.maxMs.toFixed(0)} ms, ${startup.samplesMs.length} starts`);
  if (idleRss) {
    console.log(
      `idle RSS (config.sample.yaml, ${idleRss.idleMs / 1000} s after the first 200 on /health, no requests): median ${(idleRss.medianBytes / MB).toFixed(1)} MB of ${idleRss.samplesBytes.map((b) => (b / MB).toFixed(1)).join(', ')} MB (${idleRss.samplesBytes.length} starts, ${idleRss.processes} process${idleRss.processes > 1 ? 'es' : ''}; start-up ${idleRss.startupsMs.join(', ')} ms)`,
    );
  }
  const oneConn = results.find((r) => r.name === 'apns_1conn');
  if (oneConn?.mockRoundTrip) {
    const rtt = oneConn.mockRoundTrip;
    const through = oneConn.load ? `p50 ${oneConn.load.latencyMs.p50.toFixed(2)} ms, p99 ${oneConn.load.latencyMs.p99.toFixed(2)} ms through Herald (apns_1conn)` : 'apns_1conn failed';
    console.log(
      `APNs mock round trip (node-apn alone, one send at a time, ${rtt.n} sends): p50 ${rtt.p50.toFixed(2)} ms, p99 ${rtt.p99.toFixed(2)} ms, max ${rtt.max.toFixed(2)} ms; ${through}`,
    );
  } else if (oneConn?.mockRoundTripError) {
    console.log(`APNs mock round trip: failed (${oneConn.mockRoundTripError.split('\n')[0]})`);
  }
  if (soak) {
    console.log(
      `leak check (${soak.scenario}, ${soak.soakS} s at ${soak.load.rps.toFixed(0)} req/s, ${soak.load.non2xx} non-2xx): RSS ${(soak.rssAfterWarmupBytes / MB).toFixed(1)} MB after warm-up → ${(soak.rssAfterSoakBytes / MB).toFixed(1)} MB (${soak.growthPct >= 0 ? '+' : ''}${soak.growthPct.toFixed(1)} %); every 10 s: ${soak.trajectory.map((p) => (p.rssBytes / MB).toFixed(0)).join(' ')} MB`,
    );
  }
  if (storeMemory) {
    console.log(
      `memory store at ${storeMemory.entries} rejections + ${storeMemory.entries} deliveries: ${storeMemory.bytesPerEntry.toFixed(1)} bytes per entry (V8 heap ${storeMemory.heapBytesPerEntry.toFixed(1)})`,
    );
  }
  if (ctx.workersNote) console.log(ctx.workersNote);
  const warned = results.filter((r) => (r.heraldWarnings ?? 0) > 0);
  for (const r of warned) console.log(`note: Herald logged ${r.heraldWarnings} warning/error lines in ${r.name}, first: ${r.firstWarning}`);
  console.log(`load average after: ${report.meta.loadAverageAfter.join(' ')}`);
  console.log('');
  console.log('targets (issues 9 and 12; start-up from issue 6):');
  console.log(formatTargets(targets));

  if (opts.profile) {
    for (const r of results) {
      if (!r.profile) continue;
      for (const file of r.profile.split(', ')) {
        console.log('');
        console.log(formatSummary(summarize(readProfile(file)), 25, `== CPU profile, ${r.name}: ${file}`));
      }
    }
  }

  if (opts.json) {
    const file = resolve(opts.json);
    mkdirSync(resolve(file, '..'), { recursive: true });
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    console.log('');
    console.log(`results written to ${file}`);
  }
  stoppingMocks = true;
  if (mocks) await stopChild(mocks.child);
  await redis?.stop();
  return results.some((r) => r.error) ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => {
      // After Ctrl-C the signal handler exits once the children have had their moment to stop.
      if (!isStopping()) process.exit(code);
    },
    (err: unknown) => {
      // After Ctrl-C the exit handler reports and exits; a failure from a stopped child is expected.
      if (isStopping()) return;
      console.error(`bench: ${(err as Error).stack ?? String(err)}`);
      process.exit(1);
    },
  );
}
