import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { collectOutput, freePort, HOST, spawnChild } from './procs';

export interface RunningRedis {
  readonly child: ChildProcess;
  readonly url: string;
}

/**
 * A redis-server for the bench on 127.0.0.1 and a free port, without persistence, its
 * files in `dir`; stopped with the bench's other children. Waits (bounded) until it accepts connections.
 */
export async function startRedisServer(dir: string, timeoutMs = 30_000): Promise<RunningRedis> {
  const port = await freePort();
  const child = spawnChild('redis-server', ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = collectOutput(child);
  const deadline = performance.now() + timeoutMs;
  while (!/Ready to accept connections/.test(output.stdout())) {
    if (child.exitCode !== null || child.signalCode !== null || performance.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not start (is it installed?): ${output.stdout().slice(-1_000)}${output.stderr().slice(-1_000)}`);
    }
    await sleep(20);
  }
  return { child, url: `redis://${HOST}:${port}` };
}
