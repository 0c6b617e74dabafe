import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

let sink: Promise<string> | undefined;

/**
 * An OTLP/HTTP collector that reads every export and answers success, in the mocks'
 * process (its CPU is not Herald's): the traced scenarios' spans go there.
 * Started on first use; it does not keep the process alive.
 */
export function otlpSink(): Promise<string> {
  sink ??= new Promise((resolve) => {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    });
    server.listen(0, '127.0.0.1', () => {
      server.unref();
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    });
  });
  return sink;
}
