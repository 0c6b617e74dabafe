import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The ceiling reference: a bare node:http server in its own process that reads the
 * notify body, parses it as JSON and answers `{"rejected":[]}` — what any Node push
 * gateway has to do at the least. Prints `{"port": N}` once listening; stops on
 * SIGTERM/SIGINT or when its stdin closes.
 */

const ANSWER = Buffer.from('{"rejected":[]}');
const MAX_BODY = 512 * 1024;

function main(): void {
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on('end', () => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        parsed = undefined;
      }
      const ok = size <= MAX_BODY && typeof parsed === 'object' && parsed !== null && 'notification' in parsed;
      res.writeHead(ok ? 200 : 400, { 'content-type': 'application/json', 'content-length': ok ? ANSWER.length : 2 });
      res.end(ok ? ANSWER : '{}');
    });
  });
  server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port, pid: process.pid })}\n`);
  });
  const close = () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.once('SIGTERM', close);
  process.once('SIGINT', close);
  process.stdin.on('end', close);
  process.stdin.on('error', close);
  process.stdin.resume();
}

if (require.main === module) main();
