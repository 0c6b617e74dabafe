import { Pool, ProxyAgent, type Dispatcher } from 'undici';
import { closeWithin, trustAlso, withTimeout } from '../../util/http-client';
import { SlotQueue, type SlotWait } from '../../util/slot-queue';

/** Concurrent HTTP/2 streams per connection; FCM's front ends allow 100. */
const H2_STREAMS = 100;
/** Error bodies are small; anything past this is not FCM talking. */
const MAX_BODY_CHARS = 64 * 1024;

export interface UpstreamOptions {
  /** Connections to keep open to the origin. */
  readonly connections: number;
  /** Time allowed for the answer's headers, and again for its body. */
  readonly timeoutMs: number;
  /** Outbound HTTP CONNECT proxy, if any. */
  readonly proxy?: string;
  /** Extra CA certificates (PEM) trusted on top of the system's. */
  readonly ca?: string;
}

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

/**
 * A keep-alive connection pool to one origin (FCM, or the OAuth token endpoint). Over
 * https it offers HTTP/2 and multiplexes; over plain http (tests, a local relay) it
 * reuses up to `connections` HTTP/1.1 connections. Requests past the pool's capacity
 * wait in a queue here, which is what the pending/queue-time metrics measure.
 */
export class Upstream {
  private readonly dispatcher: Dispatcher;
  private readonly slots: SlotQueue;
  readonly origin: string;

  constructor(origin: string, private readonly options: UpstreamOptions) {
    this.origin = new URL(origin).origin;
    const https = this.origin.startsWith('https:');
    // HTTP/2 only on a direct TLS connection: through a CONNECT tunnel undici negotiates HTTP/1.1.
    const h2 = https && options.proxy === undefined;
    const pipelining = h2 ? H2_STREAMS : 1;
    const connect = { timeout: options.timeoutMs, ...trustAlso(options.ca) };
    this.dispatcher = options.proxy
      ? new ProxyAgent({ uri: options.proxy, connections: options.connections, connect, requestTls: connect })
      : new Pool(this.origin, { connections: options.connections, pipelining, allowH2: h2, connect });
    this.slots = new SlotQueue(options.connections * pipelining);
  }

  /** Waits for a free slot until `signal` aborts or the client closes; only `granted` must be released. */
  acquire(signal: AbortSignal): Promise<SlotWait> {
    return this.slots.acquire(signal);
  }

  release(): void {
    this.slots.release();
  }

  /**
   * POSTs `body` to `path` and reads the whole answer. Throws on connection errors,
   * timeouts and aborts; any HTTP status is a normal answer.
   */
  post(path: string, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<UpstreamResponse> {
    return this.request('POST', path, headers, body, signal);
  }

  /** `post` for any method (the OAuth flows of google-auth-library also GET); `body` undefined sends none. */
  async request(
    method: Dispatcher.HttpMethod,
    path: string,
    headers: Record<string, string>,
    body: string | undefined,
    signal: AbortSignal,
  ): Promise<UpstreamResponse> {
    return withTimeout(signal, this.options.timeoutMs, async (deadline) => {
      const response = await this.dispatcher.request({
        origin: this.origin,
        path,
        method,
        headers,
        body: body ?? null,
        signal: deadline,
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
        // A POST is only multiplexed/pipelined when marked idempotent. A send replayed after a
        // dropped connection may reach a device twice; a lost one never arrives at all.
        idempotent: true,
      });
      const text = await response.body.text();
      return { status: response.statusCode, headers: response.headers, body: text.slice(0, MAX_BODY_CHARS) };
    });
  }

  /** Lets requests in flight finish for a moment, then cuts them: closing must not hang on a silent upstream. */
  async close(graceMs = 2_000): Promise<void> {
    this.slots.close();
    await closeWithin([this.dispatcher], graceMs);
  }
}
