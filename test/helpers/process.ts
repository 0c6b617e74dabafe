import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../upstreams/temp';

const ROOT = join(__dirname, '..', '..');
/** The built CLI, as installed (`npm test` builds first). */
const HERALD_BIN = join(ROOT, 'dist', 'src', 'main.js');

/** Whether signalHandlersInstalled() can work here (it reads Linux's /proc). */
export const CAN_SEE_SIGNAL_HANDLERS = existsSync('/proc/self/status');

export interface HeraldRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a herald command (the built CLI) to its end without blocking this process, where a mock may have to answer it. */
export function runHerald(args: string[]): Promise<HeraldRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HERALD_BIN, ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The same, blocking: for commands that need nothing from this process. */
export function runHeraldSync(args: string[]): HeraldRun {
  const run = spawnSync(process.execPath, [HERALD_BIN, ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** A herald process (the built CLI), with its JSON log lines parsed as they come. */
export class HeraldProcess {
  readonly lines: Array<Record<string, unknown>> = [];
  stderr = '';
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly exited: Promise<number | null>;
  private waiters: Array<() => void> = [];

  /** Herald on `yaml`, written to a herald.yaml of its own (`configFile`, for tests that rewrite it). */
  static withConfig(yaml: string, env: Record<string, string> = {}): HeraldProcess {
    const file = join(tempDir('herald'), 'herald.yaml');
    writeFileSync(file, yaml);
    return new HeraldProcess(['--config', file], env, file);
  }

  constructor(
    args: string[],
    env: Record<string, string> = {},
    /** The config file, when made by withConfig. */
    readonly configFile?: string,
  ) {
    this.child = spawn(process.execPath, [HERALD_BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
    });
    let partial = '';
    this.child.stdout.on('data', (chunk: Buffer) => {
      partial += chunk.toString();
      const complete = partial.split('\n');
      partial = complete.pop() ?? '';
      for (const line of complete) if (line.trim()) this.lines.push(JSON.parse(line) as Record<string, unknown>);
      for (const wake of this.waiters) wake();
    });
    this.child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
  }

  /** Resolves with the first log line (from `from` on) whose msg matches. */
  async waitFor(msg: string | RegExp, from = 0, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.slice(from).find((line) => (typeof msg === 'string' ? line.msg === msg : msg.test(String(line.msg))));
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no log line ${String(msg)}; stderr: ${this.stderr}; lines: ${JSON.stringify(this.lines)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.waiters = [];
    }
  }

  /** The notify listener's base URL, once ready. */
  async url(): Promise<string> {
    return (await this.listening()).url;
  }

  /** The "herald is ready" line, with the notify listener's base URL and the metrics address it names. */
  async listening(timeoutMs = 60_000): Promise<{ ready: Record<string, unknown>; url: string; metrics: string }> {
    const ready = await this.waitFor('herald is ready', 0, timeoutMs);
    return { ready, url: `http://${(ready.listen as string[])[0]}`, metrics: String(ready.metrics) };
  }

  get pid(): number {
    return this.child.pid as number;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /**
   * Resolves once the process catches SIGHUP (Herald installs its SIGTERM, SIGINT and
   * SIGHUP handlers together, first thing), read from Linux's /proc/<pid>/status.
   */
  async signalHandlersInstalled(): Promise<void> {
    const status = `/proc/${this.child.pid}/status`;
    for (;;) {
      const caught = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(status, 'utf8'))?.[1];
      if (caught !== undefined && (BigInt(`0x${caught}`) & 1n) === 1n) return; // bit 0: SIGHUP
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  /** The exit code, once the process has exited. */
  exitCode(): Promise<number | null> {
    return this.exited;
  }

  async stop(): Promise<number | null> {
    this.child.kill('SIGTERM');
    return this.exited;
  }
}
