import { createServer, type Server } from 'node:http';

/** Where the exposition text comes from: one registry, or every cluster worker's aggregated. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

/**
 * The Prometheus listener (`metrics.prometheus`): its own port, away from the notify
 * endpoint, so metrics need not be exposed where homeservers connect.
 */
export function createMetricsServer(source: MetricsSource): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || (path !== '/metrics' && path !== '/')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n');
      return;
    }
    source.metrics().then(
      (text) => res.writeHead(200, { 'content-type': source.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics collection failed: ${String(err)}\n`),
    );
  });
}
