import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Child processes of the bench, and the bookkeeping that makes sure none outlives it:
 * every child is registered, and on exit, error, Ctrl-C or SIGTERM each one is sent
 * SIGTERM (then SIGKILL if it lingers).
 */

/** Only ever the loopback: the bench must never send traffic anywhere else. */
export const HOST = '127.0.0.1';

const children = new Set<ChildProcess>();
const cleanups: Array<() => void> = [];
let handlersInstalled = false;
/** Set once the bench is stopping: no new child may start. */
let aborting = false;

/** True once the bench is stopping (Ctrl-C, SIGTERM, the overall time limit). */
export function isStopping(): boolean {
  return aborting;
}

/** Something synchronous to run on any exit (e.g. removing the temp dir). */
export function onExit(cleanup: () => void): void {
  cleanups.push(cleanup);
}

export function killAll(signal: NodeJS.Signals = 'SIGTERM'): void {
  aborting = true;
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  }
}

function runCleanups(): void {
  killAll('SIGKILL');
  for (const cleanup of cleanups.splice(0)) {
    try {
      cleanup();
    } catch {
      // Best effort on the way out.
    }
  }
}

/** Installs exit, signal and crash handlers once. `onAbort` is called for a signal, before exiting. */
export function installExitHandlers(onAbort: (reason: string) => void): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', runCleanups);
  const abort = (reason: string, code: number) => {
    aborting = true;
    onAbort(reason);
    killAll('SIGTERM');
    // Give children a moment to stop cleanly (Herald finishes in-flight requests), then force it.
    setTimeout(() => process.exit(code), 1_500).unref();
  };
  process.once('SIGINT', () => abort('interrupted (SIGINT)', 130));
  process.once('SIGTERM', () => abort('terminated (SIGTERM)', 143));
  process.on('uncaughtException', (err) => {
    console.error(`bench: ${err.stack ?? err.message}`);
    process.exitCode = 1;
    runCleanups();
    process.exit(1);
  });
}

/** Spawns and registers a child; it is removed from the registry when it exits. */
export function spawnChild(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  if (aborting) throw new Error('the bench is stopping');
  const child = spawn(command, args, options);
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.once('error', () => children.delete(child));
  return child;
}

/** Sends SIGTERM and waits up to `graceMs` for the exit, then SIGKILL. Resolves with the exit code. */
export async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

/** Resolves with the child's exit code, or rejects after `timeoutMs` (and kills it). */
export function waitForExit(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child ${child.pid} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** Collects a child's stdout (and stderr) as text. */
export function collectOutput(child: ChildProcess): { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => {
    // Keep only the tail: a crashing child may print a lot.
    err = (err + chunk.toString('utf8')).slice(-20_000);
  });
  return { stdout: () => out, stderr: () => err };
}

/** A port that was free a moment ago on 127.0.0.1 (Herald's port must be known before it starts). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** One GET; resolves with the status code and body, or rejects on a connection error. */
export function httpGet(port: number, path: string, timeoutMs = 1_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: HOST, port, path, method: 'GET', agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Polls GET `path` until it answers 200; resolves with the time that took from `since`
 * (ms, from performance.now()). Bounded by `timeoutMs`, and gives up early if `child` exits.
 */
export async function waitForHttp200(port: number, path: string, since: number, timeoutMs: number, child?: ChildProcess): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let last = 'no answer';
  while (performance.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`process exited (code ${child.exitCode}, signal ${child.signalCode}) before answering ${path}`);
    }
    try {
      const { status, body } = await httpGet(port, path);
      if (status === 200) return performance.now() - since;
      last = `${status} ${body.slice(0, 200)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(5);
  }
  throw new Error(`no 200 from http://${HOST}:${port}${path} within ${timeoutMs} ms (last: ${last})`);
}

/** The pid and every descendant of it (cluster workers), from /proc. */
export function processTree(pid: number): number[] {
  const tree = [pid];
  // A breadth-first walk; bounded by the number of processes on the machine.
  for (let i = 0; i < tree.length && i < 1_000; i++) {
    const parent = tree[i] as number;
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${parent}/task`);
    } catch {
      continue;
    }
    for (const task of tasks) {
      try {
        const text = readFileSync(`/proc/${parent}/task/${task}/children`, 'utf8').trim();
        for (const child of text.split(/\s+/)) if (child) tree.push(Number(child));
      } catch {
        // The task went away meanwhile.
      }
    }
  }
  return tree;
}

/** A field of /proc/<pid>/status in bytes (VmRSS, VmHWM), or undefined if the process is gone. */
export function procStatusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Samples the resident memory of a process tree (summed over the process and its
 * children, so a cluster counts whole) every `intervalMs` until stopped.
 */
export class RssSampler {
  peak = 0;
  last = 0;
  samples = 0;
  private pids: number[];
  private readonly timer: NodeJS.Timeout;
  private readonly treeTimer: NodeJS.Timeout;

  constructor(
    private readonly rootPid: number,
    intervalMs = 100,
  ) {
    this.pids = processTree(rootPid);
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    // Workers may be forked after start-up: re-read the tree now and then.
    this.treeTimer = setInterval(() => (this.pids = processTree(this.rootPid)), 1_000);
  }

  /** Current total RSS of the tree, in bytes (also updates the peak). */
  sample(): number {
    let total = 0;
    for (const pid of this.pids) total += procStatusBytes(pid, 'VmRSS') ?? 0;
    if (total > 0) {
      this.last = total;
      this.peak = Math.max(this.peak, total);
      this.samples++;
    }
    return total;
  }

  /** The kernel's own high-water mark, summed over the tree (catches peaks between samples). */
  highWaterMark(): number {
    let total = 0;
    for (const pid of this.pids) total += procStatusBytes(pid, 'VmHWM') ?? 0;
    return total;
  }

  /** How many processes the tree has now. */
  get processes(): number {
    return this.pids.length;
  }

  stop(): void {
    clearInterval(this.timer);
    clearInterval(this.treeTimer);
  }
}

/** Reads one JSON line from a child's stdout, e.g. a "ready" announcement. Bounded by `timeoutMs`. */
export function readJsonLine<T>(child: ChildProcess, timeoutMs: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    let stderr = '';
    const timer = setTimeout(() => finish(new Error(`${what}: no answer within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const newline = buffer.indexOf('\n');
      if (newline < 0) return;
      try {
        finish(undefined, JSON.parse(buffer.slice(0, newline)) as T);
      } catch (err) {
        finish(new Error(`${what}: not JSON: ${buffer.slice(0, 200)} (${(err as Error).message})`));
      }
    };
    const onErr = (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-5_000));
    const onExit = (code: number | null) => finish(new Error(`${what}: exited with code ${code} before answering; stderr: ${stderr}`));
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onErr);
    child.once('exit', onExit);
    function finish(err: Error | undefined, value?: T): void {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(value as T);
    }
  });
}

/** One POST of a JSON body; resolves with the status code and body. */
export function httpPost(port: number, path: string, body: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: HOST, port, path, method: 'POST', agent: false, timeout: timeoutMs, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux). */
const CLK_TCK = 100;

/** CPU time a process has used (user + system), in seconds, or undefined if it is gone. */
/** CPU seconds used and start time (seconds after boot) of a process, from /proc/<pid>/stat. */
function procStat(pid: number): { cpu: number; startedAt: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3, "state":
    // utime is field 14, stime 15, starttime 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { cpu: (Number(fields[11]) + Number(fields[12])) / CLK_TCK, startedAt: Number(fields[19]) / CLK_TCK };
  } catch {
    return undefined;
  }
}

function uptimeSeconds(): number {
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
}

/** The whole machine's busy and total CPU time so far, in seconds summed over all CPUs. */
function machineSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const total = values.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK };
}

/**
 * Who used the CPU during a phase: named process trees (Herald, mocks, load generator),
 * this bench process, and the whole machine — the rest is other work on the machine.
 * Percentages are of one core (200 % = both cores of a 2-core machine).
 */
export class CpuWatch {
  private readonly groups = new Map<string, { root: () => number | undefined; first: Map<number, number>; last: Map<number, number> }>();
  private readonly started = performance.now();
  private readonly uptimeStart = uptimeSeconds();
  private readonly machineStart = machineSeconds();
  private readonly selfStart = process.cpuUsage();
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 250) {
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Watches the tree under the pid `root()` returns (it may change, e.g. a load generator per phase). */
  watch(label: string, root: () => number | undefined): void {
    this.groups.set(label, { root, first: new Map(), last: new Map() });
    this.sample();
  }

  sample(): void {
    for (const group of this.groups.values()) {
      const root = group.root();
      if (root === undefined) continue;
      for (const pid of processTree(root)) {
        const stat = procStat(pid);
        if (stat === undefined) continue;
        // A process started after the watch began counts from zero, not from when it was first seen.
        if (!group.first.has(pid)) group.first.set(pid, stat.startedAt >= this.uptimeStart ? 0 : stat.cpu);
        group.last.set(pid, stat.cpu);
      }
    }
  }

  /** Stops sampling; returns each group's CPU % of one core, plus `bench`, `machine` and `other`. */
  stop(): Record<string, number> {
    this.sample();
    clearInterval(this.timer);
    const wall = (performance.now() - this.started) / 1000;
    const result: Record<string, number> = {};
    let accounted = 0;
    for (const [label, group] of this.groups) {
      let used = 0;
      for (const [pid, last] of group.last) used += last - (group.first.get(pid) ?? last);
      result[label] = (100 * used) / wall;
      accounted += used;
    }
    const self = process.cpuUsage(this.selfStart);
    const selfSeconds = (self.user + self.system) / 1e6;
    result.bench = (100 * selfSeconds) / wall;
    const machine = machineSeconds();
    const machineBusy = machine.busy - this.machineStart.busy;
    result.machine = (100 * machineBusy) / wall;
    result.other = Math.max(0, (100 * (machineBusy - accounted - selfSeconds)) / wall);
    return result;
  }
}
