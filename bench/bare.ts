import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The reference: a bare node:http server that reads the notify body, parses it as JSON
 * and answers `{"rejected":[]}` — the least any Node push gateway does. Run by the bench
 * with the same node binary as Herald; prints `{"port": N}` once listening.
 */

const ANSWER = Buffer.from('{"rejected":[]}');

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let ok = false;
    try {
      ok = 'notification' in (JSON.parse(Buffer.concat(chunks).toString()) as object);
    } catch {
      // Answered 400 below.
    }
    res.writeHead(ok ? 200 : 400, { 'content-type': 'application/json' });
    res.end(ok ? ANSWER : '{}');
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`));
process.once('SIGTERM', () => process.exit(0));
process.stdin.on('end', () => process.exit(0)).resume();
