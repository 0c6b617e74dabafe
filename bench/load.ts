import autocannon from 'autocannon';
import { eventId, type LoadResult, type LoadSpec } from './loader';

/**
 * The autocannon load generator, in its own process so it does not share an event loop
 * with the bench (it still shares the machine's cores with Herald: see docs/performance.md).
 * Usage: node dist/bench/load.js '<LoadSpec JSON>'. Prints one JSON line, a LoadResult.
 */

function run(spec: LoadSpec): Promise<LoadResult> {
  let counter = 0;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${spec.port}`,
        connections: spec.connections,
        duration: spec.durationS,
        timeout: 10,
        requests: [
          {
            method: 'POST',
            path: spec.path,
            headers: { 'content-type': 'application/json' },
            setupRequest: (request) => ({ ...request, body: spec.parts.join(eventId(spec.nonce, ++counter)) }),
          },
        ],
      },
      (err, result) => {
        if (err) return reject(err);
        const requests = Object.values(result.statusCodeStats).reduce((sum, { count }) => sum + Number(count), 0);
        resolve({
          loader: 'autocannon',
          durationS: result.duration,
          requests,
          rps: requests / result.duration,
          latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max, mean: result.latency.mean },
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
        });
      },
    );
    // Bounded whatever happens: stop a little after the planned duration.
    setTimeout(() => instance.stop(), (spec.durationS + 30) * 1000).unref();
  });
}

if (require.main === module) {
  const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec;
  if (!(spec.port > 0 && spec.parts && spec.durationS > 0)) {
    console.error('usage: node dist/bench/load.js <LoadSpec JSON>');
    process.exit(2);
  }
  run(spec).then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      console.error(`bench load: ${(err as Error).stack ?? String(err)}`);
      process.exit(1);
    },
  );
}
