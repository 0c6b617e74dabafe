import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { isIP } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type SecureContextOptions } from 'node:tls';
import { MultiProvider, Notification, Provider, type NotificationPushType, type ProviderOptions } from '@parse/node-apn';
import type { Logger } from '../../util/log';
import type { ApnsConfig } from './config';
import type { JsonObject } from './payload';

/**
 * The only code that talks to APNs. It owns the node-apn Provider, used through its
 * public API (https://github.com/parse-community/node-apn#readme), and works around
 * what that API does:
 * - its immediate retries are turned off (connectionRetryLimit 0): the pushkin owns
 *   the retry policy, with backoff and a deadline;
 * - a silently dead HTTP/2 connection is never replaced by node-apn, so after
 *   NO_ANSWER_LIMIT requests in a row get no answer the Provider is rebuilt;
 * - it reports no Retry-After, and some answers without their reason or status: what
 *   Herald does then is in toAnswer, outcome.ts and docs/apns.md ("What node-apn reports").
 */

/** Requests in a row without an answer after which the connection is presumed dead. */
export const NO_ANSWER_LIMIT = 2;
/** How long close() waits for node-apn to close its sessions. */
const SHUTDOWN_WAIT_MS = 2_000;

export interface ApnsRequest {
  /** Hex device token, already validated (it goes into the URL path). */
  readonly token: string;
  readonly payload: JsonObject;
  readonly priority: 5 | 10;
  readonly topic?: string;
  readonly pushType?: string;
}

export type ApnsAnswer =
  | { readonly kind: 'answer'; readonly apnsId: string; readonly status: number; readonly reason?: string }
  /**
   * Timeout, refused or broken connection, TLS failure: APNs said nothing. Also an answer
   * with an empty body, which node-apn reports without its status.
   */
  | { readonly kind: 'no-answer'; readonly apnsId: string; readonly error: string };

type ProviderLike = Pick<Provider, 'send' | 'shutdown'>;

interface Slot {
  readonly provider: ProviderLike;
  noAnswers: number;
}

/** Where to open TCP connections instead of the APNs host itself: a tunnel relay (util/proxy). */
export interface ConnectVia {
  readonly host: string;
  readonly port: number;
}

/**
 * node-apn's options, plus `createConnection`, which node-apn hands to http2.connect
 * as it does its other options (its own proxy support sets the same key).
 */
export type TransportOptions = ProviderOptions & { createConnection?: (authority: URL) => Duplex };

/**
 * node-apn options for one app. With `via`, every connection goes to that address (a
 * relay that tunnels it through the outbound proxy) and TLS runs over it end to end with
 * APNs: our client certificate, CAs and the APNs host as server name. node-apn's own
 * `proxy` option is not used: through it, it presents no client certificate, trusts
 * only the system CAs and cannot authenticate to the proxy.
 */
export function providerOptions(config: ApnsConfig, via: ConnectVia | undefined): TransportOptions {
  const auth = config.auth;
  if (auth === null) throw new Error('APNs pushkin built from a configuration with errors');
  const passphrase = auth.kind === 'certificate' && auth.passphrase !== undefined ? { passphrase: auth.passphrase } : {};
  const credentials: ProviderOptions =
    auth.kind === 'token'
      ? { token: { key: auth.key, keyId: auth.keyId, teamId: auth.teamId } }
      : auth.credentials.pfx
        ? { pfx: auth.credentials.pfx, ...passphrase }
        : { cert: auth.credentials.pem?.cert, key: auth.credentials.pem?.key, ...passphrase };
  const ca = config.ca !== undefined ? { ca: [config.ca] } : {};
  return {
    ...credentials,
    production: config.platform === 'production',
    connectionRetryLimit: 0,
    requestTimeout: config.requestTimeoutMs,
    ...(config.endpoint ? { address: config.endpoint.host, port: config.endpoint.port } : {}),
    ...ca,
    ...(via ? { createConnection: (authority: URL) => connectVia(via, authority, { ...clientCredentials(credentials), ...ca }) } : {}),
  };
}

/** The TLS settings of certificate authentication; token authentication presents none. */
function clientCredentials(options: ProviderOptions): SecureContextOptions {
  const { cert, key, pfx, passphrase } = options;
  return {
    ...(cert !== undefined ? { cert } : {}),
    ...(key !== undefined ? { key } : {}),
    ...(pfx !== undefined ? { pfx } : {}),
    ...(passphrase !== undefined ? { passphrase } : {}),
  };
}

/** TLS with the APNs host (`authority`) over a TCP connection to `via`. */
function connectVia(via: ConnectVia, authority: URL, secure: SecureContextOptions): Duplex {
  const name = authority.hostname.replace(/^\[|\]$/g, '');
  return tlsConnect({
    ...secure,
    host: via.host,
    port: via.port,
    // SNI carries names only (RFC 6066); the certificate is checked against the APNs host, not the relay.
    ...(isIP(name) ? {} : { servername: name }),
    checkServerIdentity: (_relay, certificate) => checkServerIdentity(name, certificate),
    ALPNProtocols: ['h2'],
  });
}

export class ApnsTransport {
  private current: Slot;
  private closed = false;

  constructor(
    private readonly options: TransportOptions,
    private readonly maxConnections: number,
    private readonly log: Logger,
    private readonly noAnswerLimit: number = NO_ANSWER_LIMIT,
  ) {
    this.current = { provider: this.build(), noAnswers: 0 };
  }

  async send(request: ApnsRequest): Promise<ApnsAnswer> {
    const apnsId = randomUUID();
    if (this.closed) return { kind: 'no-answer', apnsId, error: 'the APNs connection is closed' };
    const slot = this.current;
    const note = new Notification();
    note.id = apnsId;
    note.priority = request.priority;
    note.rawPayload = request.payload;
    if (request.topic !== undefined) note.topic = request.topic;
    if (request.pushType !== undefined) note.pushType = request.pushType as NotificationPushType;

    let failure: ResponseFailure | undefined;
    // No timer of our own: node-apn opens the stream at once (its `proxy` option, which could
    // wait on a tunnel first, is never used) and requestTimeout runs on it even while the
    // connection is still being made, so a connection that never opens is a no-answer too.
    try {
      const result = await slot.provider.send(note, request.token);
      if (result.sent.length === 0) failure = result.failed[0] ?? { error: new Error('node-apn reported nothing') };
    } catch (err) {
      // send() is documented never to throw; this keeps a library bug from becoming a 500.
      failure = { error: err as Error };
    }
    const answer = toAnswer(apnsId, failure);
    this.watch(slot, answer);
    return answer;
  }

  async close(): Promise<void> {
    this.closed = true;
    await shutdown(this.current.provider);
  }

  private build(): ProviderLike {
    return this.maxConnections > 1 ? new MultiProvider({ ...this.options, clientCount: this.maxConnections }) : new Provider(this.options);
  }

  /** The watchdog: a provider that keeps getting no answer is replaced. */
  private watch(slot: Slot, answer: ApnsAnswer): void {
    // Answers from a provider already replaced say nothing about the current one.
    if (slot !== this.current || this.closed) return;
    if (answer.kind === 'answer') {
      slot.noAnswers = 0;
      return;
    }
    slot.noAnswers++;
    if (slot.noAnswers < this.noAnswerLimit) return;
    let provider: ProviderLike;
    try {
      provider = this.build();
    } catch (err) {
      this.log.error({ err }, 'cannot build a new APNs connection; keeping the old one');
      slot.noAnswers = 0;
      return;
    }
    this.current = { provider, noAnswers: 0 };
    this.log.warn(
      { no_answers: slot.noAnswers, last_error: answer.error },
      'APNs connection looks dead (requests in a row got no answer): replacing it',
    );
    // Requests still running on the old provider finish or time out there.
    void shutdown(slot.provider);
  }
}

/** What node-apn reports of a request that was not accepted (its ResponseFailure, as far as Herald reads it). */
export interface ResponseFailure {
  readonly status?: number;
  readonly response?: { readonly reason?: string };
  readonly error?: Error;
}

/**
 * node-apn's report of one request → our answer. node-apn reports an answer with a JSON
 * body with its status and reason (ExpiredProviderToken and a 500's reason only as an
 * error message, which is not read: the status stands alone then), and an answer with
 * an empty body, like a timeout, without a status: that is a no-answer here, retried.
 */
export function toAnswer(apnsId: string, failure: ResponseFailure | undefined): ApnsAnswer {
  if (failure === undefined) return { kind: 'answer', apnsId, status: 200 };
  if (typeof failure.status !== 'number') {
    return { kind: 'no-answer', apnsId, error: failure.error?.message ?? 'no answer from APNs' };
  }
  const reason = failure.response?.reason;
  return { kind: 'answer', apnsId, status: failure.status, ...(typeof reason === 'string' ? { reason } : {}) };
}

function shutdown(provider: ProviderLike): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, SHUTDOWN_WAIT_MS);
    timer.unref();
    provider.shutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
