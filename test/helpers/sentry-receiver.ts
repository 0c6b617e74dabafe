import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { parseEnvelope, type Event } from '@sentry/core';

/**
 * A Sentry ingestion endpoint on 127.0.0.1: accepts POST /api/<project>/envelope/ as the
 * Sentry SDK sends it and decodes each envelope with the SDK's own parser.
 */
export class SentryReceiver {
  readonly events: Event[] = [];
  /** Every envelope as received, for "this never appears" checks. */
  readonly raw: string[] = [];
  private server?: Server;

  /** Starts listening; resolves with a DSN pointing here. */
  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        if (req.method !== 'POST' || !/^\/api\/\d+\/envelope\/?/.test(req.url ?? '')) {
          res.writeHead(404).end();
          return;
        }
        let body = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        this.raw.push(body.toString('utf8'));
        const [, items] = parseEnvelope(new Uint8Array(body));
        for (const [header, payload] of items) if (header.type === 'event') this.events.push(payload as Event);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://publickey@127.0.0.1:${(this.server.address() as AddressInfo).port}/1`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
