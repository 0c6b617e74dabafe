import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from 'redis';
import { unusedPort } from './ports';
import { tempDir } from './temp';

/** Servers still running when the test process exits (mocha's `exit` skips later hooks). */
const running = new Set<ChildProcess>();
let cleanupInstalled = false;

/**
 * A real redis-server on 127.0.0.1 and a free port, for one test file: no persistence,
 * its working files in a temp dir. `stop()` and `start()` again (same port, empty) play
 * a Redis that goes away and comes back.
 */
export class RedisServer {
  private child?: ChildProcess;
  private output = '';

  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly password?: string,
    /** Key and certificate files: TLS only (rediss://), no client certificate asked. */
    private readonly tls?: { readonly keyFile: string; readonly certFile: string },
  ) {}

  static async start(options: { password?: string; tls?: { key: string; cert: string } } = {}): Promise<RedisServer> {
    const dir = tempDir('redis');
    let tls: { keyFile: string; certFile: string } | undefined;
    if (options.tls) {
      tls = { keyFile: join(dir, 'server.key'), certFile: join(dir, 'server.crt') };
      writeFileSync(tls.keyFile, options.tls.key);
      writeFileSync(tls.certFile, options.tls.cert);
    }
    const server = new RedisServer(await unusedPort(), dir, options.password, tls);
    await server.start();
    return server;
  }

  /** redis://127.0.0.1:<port> (rediss:// with TLS), with the password when there is one. */
  get url(): string {
    return `${this.tls ? 'rediss' : 'redis'}://${this.password ? `:${encodeURIComponent(this.password)}@` : ''}127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir];
    if (this.tls) {
      args.splice(0, 2, '--port', '0', '--tls-port', String(this.port));
      args.push('--tls-cert-file', this.tls.certFile, '--tls-key-file', this.tls.keyFile, '--tls-auth-clients', 'no');
    }
    if (this.password) args.push('--requirepass', this.password);
    if (!cleanupInstalled) {
      cleanupInstalled = true;
      process.once('exit', () => {
        for (const child of running) child.kill('SIGKILL');
      });
    }
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    child.once('exit', () => running.delete(child));
    this.child = child;
    this.output = '';
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`redis-server exited (${code}) before it was ready: ${this.output}`));
      child.once('exit', onExit);
      child.once('error', reject);
      const check = () => {
        if (/Ready to accept connections/.test(this.output)) {
          child.off('exit', onExit);
          resolve();
        } else setTimeout(check, 20);
      };
      check();
    });
  }

  /** Stops the server (SIGTERM) and waits for it to be gone. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGCONT');
      child.kill('SIGTERM');
    });
  }

  /** Freezes the server (SIGSTOP): connections stay open, nothing is answered. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  /** A client of its own, for looking at what Herald stored; the caller closes it. */
  async client() {
    const client = createClient({ url: this.url });
    client.on('error', () => {});
    await client.connect();
    return client;
  }
}

