import autocannon from 'autocannon';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnChild, waitForExit } from './procs';

/**
 * The load drivers. wrk (C; `apt-get install wrk`) when installed: it takes far less of
 * the cores than a Node generator. autocannon, in its own process, otherwise and for a
 * fixed rate (the soak), which wrk cannot do. Every request carries a fresh event id, so
 * Herald's de-duplication never short-cuts an upstream send.
 */

export interface LoadSpec {
  readonly port: number;
  readonly path: string;
  /** The body split at its event-id placeholders; each request joins them with a fresh id. */
  readonly parts: readonly string[];
  readonly connections: number;
  readonly durationS: number;
  /** Makes event ids unique across phases and runs (alphanumeric). */
  readonly nonce: string;
  /** Requests per second over all connections; full speed when absent. */
  readonly rate?: number;
}

export interface LoadResult {
  readonly loader: 'wrk' | 'autocannon';
  readonly durationS: number;
  readonly requests: number;
  readonly rps: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Answers outside 2xx (wrk: ≥ 400; Herald sends no 3xx) plus connection errors and timeouts. */
  readonly failed: number;
}

export function wrkPath(): string | undefined {
  try {
    return execFileSync('which', ['wrk'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
  } catch {
    return undefined;
  }
}

function luaScript(spec: LoadSpec): string {
  // Lua long strings: the bodies are JSON and never contain "]==]".
  return `local parts = { ${spec.parts.map((p) => `[==[${p}]==]`).join(', ')} }
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
function request()
  n = n + 1
  return wrk.format(nil, "${spec.path}", nil, table.concat(parts, "$bench-${spec.nonce}-" .. n .. ":example.org"))
end
function done(s, latency)
  local e = s.errors
  io.write(string.format('{"us":%d,"requests":%d,"p50":%f,"p99":%f,"max":%f,"failed":%d}\\n', s.duration, s.requests,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000, e.connect + e.read + e.write + e.status + e.timeout))
end
`;
}

/** Runs one load phase against 127.0.0.1:`spec.port`; `dir` receives wrk's script. */
export async function runLoad(spec: LoadSpec, dir: string, wrk: string | undefined): Promise<LoadResult> {
  if (wrk && spec.rate === undefined) {
    const script = join(dir, `load-${spec.nonce}.lua`);
    writeFileSync(script, luaScript(spec));
    const child = spawnChild(wrk, ['-t', '1', '-c', String(spec.connections), '-d', `${spec.durationS}s`, '--timeout', '10s', '-s', script, `http://127.0.0.1:${spec.port}`]);
    const code = await waitForExit(child, (spec.durationS + 30) * 1000);
    const line = child.output().stdout.split('\n').find((l) => l.startsWith('{"us"'));
    if (code !== 0 || !line) throw new Error(`wrk failed (exit ${code}): ${child.output().stderr}`);
    const s = JSON.parse(line) as { us: number; requests: number; p50: number; p99: number; max: number; failed: number };
    return { loader: 'wrk', durationS: s.us / 1e6, requests: s.requests, rps: s.requests / (s.us / 1e6), latencyMs: s, failed: s.failed };
  }
  const child = spawnChild(process.execPath, [__filename, JSON.stringify(spec)]);
  await waitForExit(child, (spec.durationS + 60) * 1000);
  const line = child.output().stdout.trim();
  if (!line.startsWith('{')) throw new Error(`autocannon failed: ${child.output().stderr}`);
  return JSON.parse(line) as LoadResult;
}

/** The autocannon side: `node dist/bench/load.js '<LoadSpec JSON>'` prints one LoadResult line. */
function autocannonMain(spec: LoadSpec): void {
  let n = 0;
  const instance = autocannon(
    {
      url: `http://127.0.0.1:${spec.port}`,
      connections: spec.connections,
      duration: spec.durationS,
      timeout: 10,
      ...(spec.rate !== undefined ? { overallRate: spec.rate } : {}),
      requests: [
        {
          method: 'POST',
          path: spec.path,
          headers: { 'content-type': 'application/json' },
          setupRequest: (request) => ({ ...request, body: spec.parts.join(`$bench-${spec.nonce}-${++n}:example.org`) }),
        },
      ],
    },
    (err, r) => {
      if (err) throw err;
      const requests = Object.values(r.statusCodeStats).reduce((sum, { count }) => sum + Number(count), 0);
      const result: LoadResult = { loader: 'autocannon', durationS: r.duration, requests, rps: requests / r.duration, latencyMs: r.latency, failed: r.non2xx + r.errors };
      process.stdout.write(`${JSON.stringify(result)}\n`);
      process.exit(0);
    },
  );
  setTimeout(() => instance.stop(), (spec.durationS + 30) * 1000).unref();
}

if (require.main === module) autocannonMain(JSON.parse(process.argv[2] ?? '{}') as LoadSpec);
