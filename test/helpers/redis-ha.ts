import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createClient } from 'redis';
import { unusedPort } from '../upstreams/ports';
import { tempDir } from '../upstreams/temp';

/** Processes still running when the test process exits (mocha's `exit` skips later hooks). */
const running = new Set<ChildProcess>();
let cleanupInstalled = false;

/** Polls `check` until it answers something other than undefined; fails after `timeoutMs` (a safety net, not a timing). */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await check().catch(() => undefined);
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await delay(100);
  }
}

/** `promise`, or a failure after `timeoutMs` (a safety net, not a timing). */
export async function within<T>(what: string, promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms`)), timeoutMs)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** A client of its own on 127.0.0.1:`port`, for looking or asking; the caller destroys it. */
export async function clientAt(port: number, password?: string) {
  const client = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false }, ...(password !== undefined ? { password } : {}) });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Asks the Redis (or sentinel) on `port` one command and closes. */
export async function ask(port: number, args: string[], password?: string): Promise<unknown> {
  const client = await clientAt(port, password);
  try {
    return await client.sendCommand(args);
  } finally {
    client.destroy();
  }
}

/**
 * One redis-server or redis-sentinel process on 127.0.0.1, in a temp dir of its own: no
 * persistence. Started by RedisSentinelGroup and RedisClusterGroup.
 */
export class RedisNodeProcess {
  private child?: ChildProcess;
  private output = '';

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  /** `args(port, dir)` are the command's arguments; resolves once `ready` shows in its output. */
  static async start(command: 'redis-server' | 'redis-sentinel', args: (port: number, dir: string) => string[], ready: RegExp): Promise<RedisNodeProcess> {
    const node = new RedisNodeProcess(await unusedPort(), tempDir(command));
    await node.spawn(command, args(node.port, node.dir), ready);
    return node;
  }

  private async spawn(command: string, args: string[], ready: RegExp): Promise<void> {
    if (!cleanupInstalled) {
      cleanupInstalled = true;
      process.once('exit', () => {
        for (const child of running) child.kill('SIGKILL');
      });
    }
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    child.once('exit', () => running.delete(child));
    this.child = child;
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`${command} exited (${code}) before it was ready: ${this.output}`));
      child.once('exit', onExit);
      child.once('error', reject);
      const check = () => {
        if (ready.test(this.output)) {
          child.off('exit', onExit);
          resolve();
        } else setTimeout(check, 20);
      };
      check();
    });
  }

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends `signal` (SIGTERM: a clean stop; SIGKILL: a crash) and waits for the process to be gone. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }
}

/** The name the sentinels monitor the primary by. */
export const SENTINEL_MASTER = 'herald-primary';

/** redis-server's arguments for a node without persistence, with `password` if any (also to reach its primary). */
function serverArgs(port: number, dir: string, password: string | undefined): string[] {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  if (password !== undefined) args.push('--requirepass', password, '--masterauth', password);
  return args;
}

/**
 * Redis Sentinel on 127.0.0.1: a primary, one replica and three sentinels (quorum 2). The
 * sentinels call the primary down after `downAfterMs` without an answer, then promote
 * the replica. `password` protects the primary and replica, `sentinelPassword` the sentinels.
 */
export class RedisSentinelGroup {
  private constructor(
    readonly primary: RedisNodeProcess,
    readonly replica: RedisNodeProcess,
    readonly sentinels: readonly RedisNodeProcess[],
    private readonly password: string | undefined,
    private readonly sentinelPassword: string | undefined,
  ) {}

  static async start(options: { downAfterMs: number; password?: string; sentinelPassword?: string }): Promise<RedisSentinelGroup> {
    const { password, sentinelPassword } = options;
    const serverReady = /Ready to accept connections/;
    const primary = await RedisNodeProcess.start('redis-server', (port, dir) => serverArgs(port, dir, password), serverReady);
    const replica = await RedisNodeProcess.start(
      'redis-server',
      (port, dir) => [...serverArgs(port, dir, password), '--replicaof', '127.0.0.1', String(primary.port)],
      serverReady,
    );
    const sentinels: RedisNodeProcess[] = [];
    for (let i = 0; i < 3; i++) {
      sentinels.push(
        await RedisNodeProcess.start(
          'redis-sentinel',
          (port, dir) => {
            // A sentinel rewrites its configuration file: it must be its own, writable.
            const file = join(dir, 'sentinel.conf');
            writeFileSync(
              file,
              [
                `port ${port}`,
                'bind 127.0.0.1',
                `dir ${dir}`,
                `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${primary.port} 2`,
                `sentinel down-after-milliseconds ${SENTINEL_MASTER} ${options.downAfterMs}`,
                `sentinel failover-timeout ${SENTINEL_MASTER} 10000`,
                `sentinel parallel-syncs ${SENTINEL_MASTER} 1`,
                ...(password !== undefined ? [`sentinel auth-pass ${SENTINEL_MASTER} ${password}`] : []),
                ...(sentinelPassword !== undefined ? [`requirepass ${sentinelPassword}`, `sentinel sentinel-pass ${sentinelPassword}`] : []),
                '',
              ].join('\n'),
            );
            return [file];
          },
          /\+monitor master/,
        ),
      );
    }
    const group = new RedisSentinelGroup(primary, replica, sentinels, password, sentinelPassword);
    await group.waitUntilSettled();
    return group;
  }

  /** Waits until the replica is in sync and every sentinel knows it and the two other sentinels: a failover can then happen. */
  private async waitUntilSettled(): Promise<void> {
    await until('the replica in sync', async () => {
      const info = String(await ask(this.replica.port, ['INFO', 'replication'], this.password));
      return /master_link_status:up/.test(info) ? true : undefined;
    });
    for (const sentinel of this.sentinels) {
      await until(`sentinel ${sentinel.port} knowing the replica and the other sentinels`, async () => {
        const replicas = (await ask(sentinel.port, ['SENTINEL', 'REPLICAS', SENTINEL_MASTER], this.sentinelPassword)) as unknown[];
        const others = (await ask(sentinel.port, ['SENTINEL', 'SENTINELS', SENTINEL_MASTER], this.sentinelPassword)) as unknown[];
        return replicas.length === 1 && others.length === 2 ? true : undefined;
      });
    }
  }

  /** `store.sentinel.nodes` for Herald. */
  get nodes(): string[] {
    return this.sentinels.map((sentinel) => `127.0.0.1:${sentinel.port}`);
  }

  /** The primary's port as the first sentinel names it now. */
  async primaryPort(): Promise<number> {
    const [, port] = (await ask(this.sentinels[0]?.port ?? 0, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER], this.sentinelPassword)) as [string, string];
    return Number(port);
  }

  /** Resolves with Date.now() when a sentinel announces the promotion (+switch-master); subscribe before the failover. */
  async promotion(): Promise<{ promoted: Promise<number>; close: () => void }> {
    const client = await clientAt(this.sentinels[0]?.port ?? 0, this.sentinelPassword);
    let resolve: (at: number) => void = () => {};
    const promoted = new Promise<number>((r) => (resolve = r));
    await client.subscribe('+switch-master', () => resolve(Date.now()));
    return { promoted, close: () => client.destroy() };
  }

  async stop(): Promise<void> {
    for (const node of [...this.sentinels, this.replica, this.primary]) await node.stop();
  }
}

/** A Redis Cluster on 127.0.0.1: three primaries, no replicas, made with `redis-cli --cluster create`; `password` on every node. */
export class RedisClusterGroup {
  private constructor(
    readonly primaries: readonly RedisNodeProcess[],
    readonly password: string | undefined,
  ) {}

  static async start(options: { password?: string } = {}): Promise<RedisClusterGroup> {
    const { password } = options;
    const primaries: RedisNodeProcess[] = [];
    for (let i = 0; i < 3; i++) {
      primaries.push(
        await RedisNodeProcess.start(
          'redis-server',
          (port, dir) => [
            ...serverArgs(port, dir, password),
            ...['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-node-timeout', '5000'],
          ],
          /Ready to accept connections/,
        ),
      );
    }
    const group = new RedisClusterGroup(primaries, password);
    // The password through the environment, not the command line (redis-cli reads REDISCLI_AUTH).
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...group.nodes, '--cluster-yes'], {
      encoding: 'utf8',
      env: { ...process.env, ...(password !== undefined ? { REDISCLI_AUTH: password } : {}) },
    });
    if (create.status !== 0) {
      await group.stop();
      throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    }
    for (const node of primaries) {
      await until(`cluster node ${node.port} in state ok`, async () => (/cluster_state:ok/.test(String(await ask(node.port, ['CLUSTER', 'INFO'], password))) ? true : undefined));
    }
    return group;
  }

  /** `store.cluster.nodes` for Herald. */
  get nodes(): string[] {
    return this.primaries.map((node) => `127.0.0.1:${node.port}`);
  }

  /** The port of the primary that serves `key`'s hash slot. */
  async portFor(key: string): Promise<number> {
    const first = this.primaries[0]?.port ?? 0;
    const slot = Number(await ask(first, ['CLUSTER', 'KEYSLOT', key], this.password));
    const ranges = (await ask(first, ['CLUSTER', 'SLOTS'], this.password)) as Array<[number, number, [string, number, ...unknown[]], ...unknown[]]>;
    const range = ranges.find(([from, to]) => slot >= Number(from) && slot <= Number(to));
    if (!range) throw new Error(`no node serves slot ${slot}`);
    return Number(range[2][1]);
  }

  async stop(): Promise<void> {
    for (const node of this.primaries) await node.stop();
  }
}
