import { Agent, ProxyAgent, type Dispatcher } from 'undici';
import { closeWithin, trustAlso, withTimeout } from '../../util/http-client';
import { SlotQueue, type SlotWait } from '../../util/slot-queue';
import { assertResolvesPublic, publicOnlyLookup } from './endpoint';

/** Concurrent HTTP/2 streams per connection. */
const H2_STREAMS = 100;
/** Push services answer with empty or short bodies; nothing past this is read. */
export const MAX_RESPONSE_BYTES = 8 * 1024;

export interface PushServiceClientOptions {
  /** Connections per push service origin, and (times the streams per connection) sends in flight in all. */
  readonly maxConnections: number;
  /** Time allowed for the answer's headers, and again for its body. */
  readonly timeoutMs: number;
  readonly ca?: string;
  /** When false, connections only go to public addresses (checked on the address actually connected to). */
  readonly allowPrivate: boolean;
  /** The outbound proxy for a URL, if any (Herald's `proxy` / HTTPS_PROXY, minus NO_PROXY). */
  readonly proxyFor: (target: string) => string | undefined;
}

export interface PushServiceResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** At most MAX_RESPONSE_BYTES of the body, as text. */
  readonly body: string;
}

/**
 * HTTP to push services, whose origins come from the subscriptions: one keep-alive pool
 * per origin (HTTP/2 when the service offers it, on a direct connection), through the
 * outbound proxy when one applies. Sends past the capacity wait in a queue here, which
 * the pending/queue-time metrics measure.
 */
export class PushServiceClient {
  private readonly direct: Dispatcher;
  private readonly proxied = new Map<string, Dispatcher>();
  private readonly slots: SlotQueue;
  private readonly tls: { timeout: number; ca?: string[] };

  constructor(private readonly options: PushServiceClientOptions) {
    this.tls = { timeout: options.timeoutMs, ...trustAlso(options.ca) };
    const connect = { ...this.tls, ...(options.allowPrivate ? {} : { lookup: publicOnlyLookup }) };
    this.direct = new Agent({ connections: options.maxConnections, pipelining: H2_STREAMS, allowH2: true, connect });
    this.slots = new SlotQueue(options.maxConnections * H2_STREAMS);
  }

  /** Waits for a free slot until `signal` aborts or the client closes; only `granted` must be released. */
  acquire(signal: AbortSignal): Promise<SlotWait> {
    return this.slots.acquire(signal);
  }

  release(): void {
    this.slots.release();
  }

  /**
   * POSTs `body` to `url` and reads at most MAX_RESPONSE_BYTES of the answer. Throws on
   * connection errors, timeouts, aborts and refused addresses (EndpointRefusedError);
   * any HTTP status is a normal answer.
   */
  async post(url: URL, headers: Record<string, string>, body: Buffer, signal: AbortSignal): Promise<PushServiceResponse> {
    const proxy = this.options.proxyFor(url.href);
    // Through a proxy the proxy resolves the name: check it here too (it may still resolve differently there).
    if (proxy !== undefined && !this.options.allowPrivate) await assertResolvesPublic(url.hostname.replace(/^\[|\]$/g, ''));
    const dispatcher = proxy !== undefined ? this.proxiedVia(proxy) : this.direct;
    return withTimeout(signal, this.options.timeoutMs, async (deadline) => {
      const response = await dispatcher.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers,
        body,
        signal: deadline,
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
        // Needed for HTTP/2 multiplexing; a send replayed after a dropped connection may arrive twice.
        idempotent: true,
      });
      return { status: response.statusCode, headers: response.headers, body: await readBounded(response.body) };
    });
  }

  private proxiedVia(proxy: string): Dispatcher {
    let agent = this.proxied.get(proxy);
    if (!agent) {
      // HTTP/1.1 inside the CONNECT tunnel, one send per connection at a time.
      agent = new ProxyAgent({ uri: proxy, connections: this.options.maxConnections, requestTls: this.tls });
      this.proxied.set(proxy, agent);
    }
    return agent;
  }

  /** Lets requests in flight finish for a moment, then cuts them. */
  async close(graceMs = 2_000): Promise<void> {
    this.slots.close();
    await closeWithin([this.direct, ...this.proxied.values()], graceMs);
  }
}

/** The body as text, reading no more than MAX_RESPONSE_BYTES: the answer comes from a host a client chose. */
async function readBounded(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= MAX_RESPONSE_BYTES) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BYTES).toString('utf8');
}
