import type { LookupFunction } from 'node:net';
import { rootCertificates } from 'node:tls';
import type { Gauge, Histogram } from 'prom-client';
import { Agent, Pool, ProxyAgent, type Dispatcher } from 'undici';

/** Concurrent HTTP/2 streams per connection; FCM's and the browsers' push services allow 100. */
const H2_STREAMS = 100;

/** Keeps connections from reaching addresses a send must not reach (private networks). */
export interface AddressGuard {
  /** The `dns.lookup` the socket connects with, so the address checked is the address used. */
  readonly lookup: LookupFunction;
  /** Through a proxy the proxy resolves the name: checked here first (it may still resolve differently there). */
  check(hostname: string): Promise<void>;
}

export interface UpstreamOptions {
  /** Connections kept open to each origin. */
  readonly connections: number;
  /** Time allowed for the connection, for the answer's headers, and again for its body. */
  readonly timeoutMs: number;
  /** Bytes of an answer's body read; the rest is dropped unread (the host may be a stranger's). */
  readonly maxBodyBytes: number;
  /** Extra CA certificates (PEM) trusted on top of the system's. */
  readonly ca?: string;
  /** The outbound HTTP CONNECT proxy for a URL, or undefined to connect directly (PushkinEnv.proxyFor). */
  proxyFor(target: string): string | undefined;
  /** When set, only addresses it lets through are connected to. */
  readonly guard?: AddressGuard;
  /** Sygnal's series of the platform's sends: in flight, and each send's time. */
  readonly metrics?: { readonly active: Gauge; readonly requestTime: Histogram };
}

export interface UpstreamRequest {
  readonly method?: Dispatcher.HttpMethod;
  readonly headers: Record<string, string>;
  readonly body?: string | Buffer;
}

export interface UpstreamAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** At most `maxBodyBytes` of the body, as text. */
  readonly body: string;
}

/**
 * Herald's one outbound HTTP client, for every pushkin that speaks HTTP (FCM and its OAuth
 * token endpoint, Web Push, UnifiedPush): keep-alive pools per origin, HTTP/2 where a direct
 * TLS connection offers it, the outbound proxy (HTTP/1.1 inside a CONNECT tunnel), extra
 * CAs, a deadline per answer, bounded answer bodies and an optional address guard.
 *
 * It has no queue of its own: the app's one queue (pushkins/limit.ts) admits at most
 * `capacity` sends at once, so none waits again here or in undici's pools.
 */
export class UpstreamClient {
  private readonly direct: Dispatcher;
  private readonly proxied = new Map<string, Dispatcher>();
  private readonly tls: { timeout: number; ca?: string[] };

  constructor(private readonly options: UpstreamOptions) {
    this.tls = { timeout: options.timeoutMs, ...trustAlso(options.ca) };
    const connect = { ...this.tls, ...(options.guard ? { lookup: options.guard.lookup } : {}) };
    // Streams are multiplexed over https, where HTTP/2 may be negotiated; plain http sends one request per connection at a time.
    this.direct = new Agent({
      connections: options.connections,
      allowH2: true,
      connect,
      factory: (origin, poolOptions) => new Pool(origin, { ...poolOptions, pipelining: String(origin).startsWith('https:') ? H2_STREAMS : 1 }),
    });
  }

  /**
   * Sends the connections to `target` carry at once: a direct https origin multiplexes
   * (HTTP/2), a plain http one or a tunnel through the proxy does not. Without `target`
   * (origins chosen by users: push services, distributors), any public https origin.
   */
  capacity(target = 'https://push.example/'): number {
    const multiplexed = target.startsWith('https:') && this.options.proxyFor(target) === undefined;
    return this.options.connections * (multiplexed ? H2_STREAMS : 1);
  }

  /**
   * Sends `request` to `url` and reads at most `maxBodyBytes` of the answer. Throws on
   * connection errors, timeouts, aborts and whatever the address guard refuses; any HTTP
   * status is a normal answer. Redirects are answers too: none is followed.
   */
  async send(url: URL, request: UpstreamRequest, signal: AbortSignal): Promise<UpstreamAnswer> {
    const { options } = this;
    const proxy = options.proxyFor(url.href);
    if (proxy !== undefined && options.guard) await options.guard.check(url.hostname.replace(/^\[|\]$/g, ''));
    const dispatcher = proxy !== undefined ? this.proxiedVia(proxy) : this.direct;
    options.metrics?.active.inc();
    const stopTimer = options.metrics?.requestTime.startTimer();
    try {
      return await withTimeout(signal, options.timeoutMs, async (deadline) => {
        const response = await dispatcher.request({
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: request.method ?? 'POST',
          headers: request.headers,
          body: request.body ?? null,
          signal: deadline,
          headersTimeout: options.timeoutMs,
          bodyTimeout: options.timeoutMs,
          // A POST is only multiplexed when marked idempotent. A send replayed after a
          // dropped connection may reach a device twice; a lost one never arrives at all.
          idempotent: true,
        });
        return { status: response.statusCode, headers: response.headers, body: await readBounded(response.body, options.maxBodyBytes) };
      });
    } finally {
      stopTimer?.();
      options.metrics?.active.dec();
    }
  }

  private proxiedVia(proxy: string): Dispatcher {
    let agent = this.proxied.get(proxy);
    if (!agent) {
      agent = new ProxyAgent({ uri: proxy, connections: this.options.connections, connect: { timeout: this.options.timeoutMs }, requestTls: this.tls });
      this.proxied.set(proxy, agent);
    }
    return agent;
  }

  /** Lets requests in flight finish for a moment, then cuts them: closing must not hang on a silent upstream. */
  async close(graceMs = 2_000): Promise<void> {
    await closeWithin([this.direct, ...this.proxied.values()], graceMs);
  }
}

/** TLS options trusting `ca` (PEM) besides the system's CAs: a `ca` given alone would replace the system's list. */
function trustAlso(ca: string | undefined): { ca?: string[] } {
  return ca !== undefined ? { ca: [...rootCertificates, ca] } : {};
}

/**
 * Runs `send` with a signal that aborts when `signal` does, or after `timeoutMs`.
 * Our own controller rather than AbortSignal.any: its listeners on long-lived signals are
 * only dropped when those abort, which would pile up on a pushkin's lifetime signal.
 */
async function withTimeout<T>(signal: AbortSignal, timeoutMs: number, send: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const abort = () => controller.abort(signal.reason);
  if (signal.aborted) abort();
  signal.addEventListener('abort', abort, { once: true });
  const timer = setTimeout(() => controller.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  try {
    return await send(controller.signal);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', abort);
  }
}

/** The body as text, reading no more than `limit` bytes. */
async function readBounded(body: AsyncIterable<Buffer> & { destroy(): unknown }, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= limit) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

/** Lets requests in flight finish for `graceMs`, then cuts them. */
async function closeWithin(dispatchers: readonly Dispatcher[], graceMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), graceMs);
  });
  const closed = Promise.all(dispatchers.map((d) => d.close())).then(
    () => 'closed' as const,
    () => 'timeout' as const,
  );
  const result = await Promise.race([closed, graceOver]);
  clearTimeout(timer);
  if (result === 'timeout') await Promise.all(dispatchers.map((d) => d.destroy().catch(() => undefined)));
}
