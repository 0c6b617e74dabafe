import { gaxios } from 'google-auth-library';
import type { Dispatcher } from 'undici';
import { UpstreamClient } from '../../upstream/client';

/**
 * Where google-auth-library posts every service-account token request, whatever the key
 * file says; it is also the `aud` of the assertion it signs.
 */
export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

/** Connections to each sign-in host: one refresh at a time needs no more. */
const CONNECTIONS_PER_HOST = 2;
/** Token and metadata answers are small; anything past this is not Google talking. */
const MAX_BODY_BYTES = 64 * 1024;
/** Statuses whose answers have no body (a Response refuses one). */
const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

export interface GoogleTransportOptions {
  /** Time allowed for each answer. */
  readonly timeoutMs: number;
  /** Extra CA certificates (PEM) trusted on top of the system's. */
  readonly ca?: string;
  /** The outbound proxy for a URL, or undefined to connect directly (PushkinEnv.proxyFor). */
  proxyFor(target: string): string | undefined;
}

/**
 * The HTTP transport google-auth-library signs in through (its `transporter`). Its
 * requests go out through Herald's own connection pools — the outbound proxy, `ca_file`,
 * `request_timeout_ms` — instead of the library's HTTP client; the library never retries
 * them (the FCM pushkin's retry policy and the homeserver's retries decide); and token
 * requests go to the credentials' `token_uri` rather than Google's fixed URL, as Google's
 * Python library does.
 */
export class GoogleTransport {
  readonly gaxios: gaxios.Gaxios;
  private tokenUri?: URL;
  private readonly client: UpstreamClient;
  private readonly closing = new AbortController();

  constructor(options: GoogleTransportOptions) {
    this.client = new UpstreamClient({
      connections: CONNECTIONS_PER_HOST,
      timeoutMs: options.timeoutMs,
      maxBodyBytes: MAX_BODY_BYTES,
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
      proxyFor: (target) => options.proxyFor(target),
    });
    this.gaxios = new gaxios.Gaxios({ fetchImplementation: (input, init) => this.fetch(input, init) });
    this.gaxios.interceptors.request.add({
      resolved: async (request) => {
        // The token request asks for its POST to be retried; a retry here would be invisible
        // to the pushkin and stack on top of its own.
        request.retry = false;
        request.retryConfig = { ...request.retryConfig, retry: 0 };
        if (this.tokenUri && request.url.href === GOOGLE_TOKEN_URL) request.url = new URL(this.tokenUri);
        return request;
      },
    });
  }

  /** Send token requests to `tokenUri` (the credentials file's `token_uri`). */
  useTokenUri(tokenUri: string): void {
    this.tokenUri = new URL(tokenUri);
  }

  /** Cuts requests in flight and closes the connections. */
  async close(): Promise<void> {
    this.closing.abort(new Error('FCM pushkin closed'));
    await this.client.close();
  }

  /** The `fetch` gaxios calls: one request through the pool for its origin. */
  private async fetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
    this.closing.signal.throwIfAborted();
    // A Request normalises every body gaxios may pass (string, URLSearchParams…) and adds its content-type.
    const request = new Request(input, { method: init.method ?? 'GET', headers: init.headers ?? {}, body: init.body ?? null });
    const url = new URL(request.url);
    const body = init.body === undefined || init.body === null ? undefined : await request.text();
    const signal = init.signal ? AbortSignal.any([init.signal, this.closing.signal]) : this.closing.signal;
    const answer = await this.client.send(
      url,
      { method: request.method as Dispatcher.HttpMethod, headers: Object.fromEntries(request.headers), ...(body !== undefined ? { body } : {}) },
      signal,
    );
    const headers = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, item);
    }
    return new Response(NULL_BODY_STATUSES.has(answer.status) ? null : answer.body, { status: answer.status, headers });
  }
}
