import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Child processes of the bench and what it reads about them from /proc. Every child is
 * registered; on exit, error, Ctrl-C or SIGTERM each one is killed, so none outlives the bench.
 */

export const HOST = '127.0.0.1';
const children = new Set<ChildProcess>();
const cleanups: Array<() => void> = [];
let stopping = false;

export function isStopping(): boolean {
  return stopping;
}

export function onExit(cleanup: () => void): void {
  cleanups.push(cleanup);
}

function killAll(signal: NodeJS.Signals): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
}

export function installExitHandlers(): void {
  process.on('exit', () => {
    killAll('SIGKILL');
    for (const cleanup of cleanups.splice(0)) cleanup();
  });
  const abort = (code: number) => {
    stopping = true;
    killAll('SIGTERM');
    setTimeout(() => process.exit(code), 1_500).unref();
  };
  process.once('SIGINT', () => abort(130));
  process.once('SIGTERM', () => abort(143));
}

/** Gives up on the whole run after `seconds`, whatever is stuck. */
export function limitRun(seconds: number): void {
  setTimeout(() => {
    process.stderr.write(`bench: the run took longer than ${Math.round(seconds)} s: giving up\n`);
    stopping = true;
    killAll('SIGTERM');
    setTimeout(() => process.exit(1), 2_000).unref();
  }, seconds * 1000).unref();
}

/** A registered child whose stdout and stderr (its tail) are collected. */
export function spawnChild(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess & { output(): { stdout: string; stderr: string } } {
  if (stopping) throw new Error('the bench is stopping');
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-20_000)));
  return Object.assign(child, { output: () => ({ stdout, stderr }) });
}

/** Resolves with the exit code; kills the child and rejects after `timeoutMs`. */
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

/** SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

/** The first stdout line of a child, parsed as JSON. */
export async function readJsonLine<T>(child: ReturnType<typeof spawnChild>, timeoutMs: number, what: string): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const { stdout, stderr } = child.output();
    const newline = stdout.indexOf('\n');
    if (newline >= 0) return JSON.parse(stdout.slice(0, newline)) as T;
    if (child.exitCode !== null || child.signalCode !== null || performance.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${what} gave no answer (exit ${child.exitCode ?? child.signalCode}): ${stderr.slice(-2_000)}`);
    }
    await sleep(20);
  }
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function httpRequest(port: number, method: 'GET' | 'POST', path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: HOST, port, method, path, timeout: 10_000, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Polls GET `path` every 5 ms until it answers 200; resolves with the ms since `since`. */
export async function waitForHttp200(port: number, path: string, since: number, timeoutMs: number, child: ChildProcess): Promise<number> {
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited with ${child.exitCode ?? child.signalCode}`);
    const status = await httpRequest(port, 'GET', path).then((r) => r.status, () => 0);
    if (status === 200) return performance.now() - since;
    if (performance.now() - since > timeoutMs) throw new Error(`no 200 on ${path} within ${timeoutMs} ms`);
    await sleep(5);
  }
}

/** `pid` and its descendants (a cluster's workers), from /proc. */
function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(/^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // It exited meanwhile.
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(parents.get(tree[i] as number) ?? []));
  return tree;
}

function sumOver(pid: number, read: (pid: number) => number): number {
  return processTree(pid).reduce((sum, p) => {
    try {
      return sum + read(p);
    } catch {
      return sum;
    }
  }, 0);
}

/** VmRSS of `pid` and its descendants, bytes. */
export function rssBytes(pid: number): number {
  return sumOver(pid, (p) => 1024 * Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0));
}

/** User + system CPU of `pid` and its descendants (all threads), in ms; /proc counts in ticks of 10 ms. */
export function cpuMs(pid: number): number {
  return sumOver(pid, (p) => {
    const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return 10 * (Number(fields[11]) + Number(fields[12]));
  });
}

/** Samples the RSS of a process tree every 100 ms; `peak` is the highest seen. */
export class RssSampler {
  peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.timer = setInterval(() => this.sample(), 100);
  }

  sample(): number {
    const rss = rssBytes(this.pid);
    this.peak = Math.max(this.peak, rss);
    return rss;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
