import { verify, type KeyObject } from 'node:crypto';
import {
  createSecureServer,
  type Http2SecureServer,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import forge from 'node-forge';
import { APPLE_PUSH_OIDS, type ApnsEnvironment } from '../../src/pushkins/apns/credentials';
import type { ApnsTestPki } from './apns-pki';

/**
 * APNs played by a real HTTP/2 TLS server on 127.0.0.1: it checks credentials the way
 * Apple does (ES256 JWT signature, kid and iss; or a client certificate carrying the
 * push extension), answers each device token from a script, and records every request.
 */

/** One scripted answer; `until` holds it back until the promise settles. */
export type MockAnswer =
  | Reply
  /** Never answer this request (a stuck stream). */
  | 'hang';

export interface Reply {
  readonly status: number;
  readonly reason?: string;
  readonly retryAfter?: string;
  /** Answer without a JSON body, as some proxies do. */
  readonly emptyBody?: boolean;
  readonly until?: Promise<unknown>;
}

export interface RecordedRequest {
  readonly token: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly bytes: number;
  readonly json: Record<string, unknown>;
  /** Which TLS session (1, 2, …) carried it. */
  readonly session: number;
  readonly jwt?: { readonly header: Record<string, unknown>; readonly claims: Record<string, unknown> };
}

export interface ApnsMockOptions {
  readonly pki: ApnsTestPki;
  /** Token auth: the key the provider token must verify against. */
  readonly token?: { readonly publicKey: KeyObject; readonly keyId: string; readonly teamId: string };
  /** Certificate auth: the environment whose push OID the client certificate must carry. */
  readonly certificate?: ApnsEnvironment;
}

const OK: MockAnswer = { status: 200 };

export class ApnsMock {
  readonly requests: RecordedRequest[] = [];
  private readonly scripts = new Map<string, MockAnswer[]>();
  private readonly sessions = new Map<ServerHttp2Session, number>();
  private readonly stalled = new Set<ServerHttp2Session>();
  private readonly waiters: Array<() => void> = [];
  private sessionCount = 0;

  private constructor(
    private readonly server: Http2SecureServer,
    private readonly options: ApnsMockOptions,
  ) {
    server.on('session', (session) => {
      this.sessions.set(session, ++this.sessionCount);
      session.on('error', () => {});
      session.on('close', () => this.sessions.delete(session));
    });
    server.on('stream', (stream, headers) => this.onStream(stream, headers));
  }

  static async start(options: ApnsMockOptions): Promise<ApnsMock> {
    const server = createSecureServer({
      key: options.pki.serverKey,
      cert: options.pki.serverCert,
      ca: options.pki.caPem,
      // Ask for a client certificate but check it ourselves, to answer like Apple
      // (403 BadCertificate…) rather than with a TLS failure.
      requestCert: options.certificate !== undefined,
      rejectUnauthorized: false,
    });
    const mock = new ApnsMock(server, options);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return mock;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** TLS sessions opened so far. */
  get sessionsOpened(): number {
    return this.sessionCount;
  }

  /** Answers for `token`, one per request, in order; after them every request gets 200. */
  script(token: string, ...answers: MockAnswer[]): void {
    this.scripts.set(token, [...answers]);
  }

  /** The next request for `token` gets `answer` (default 200) only once the returned function is called. */
  hold(token: string, answer: Reply = { status: 200 }): () => void {
    let release!: () => void;
    const until = new Promise<void>((resolve) => (release = resolve));
    this.script(token, { ...answer, until });
    return release;
  }

  /** Every connection open now goes silent: requests on it are read but never answered. */
  stallOpenConnections(): void {
    for (const session of this.sessions.keys()) this.stalled.add(session);
  }

  requestsFor(token: string): RecordedRequest[] {
    return this.requests.filter((request) => request.token === token);
  }

  /** Resolves once `count` requests for `token` have arrived. */
  async waitForRequests(token: string, count: number): Promise<void> {
    while (this.requestsFor(token).length < count) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  async close(): Promise<void> {
    for (const session of this.sessions.keys()) session.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', () => {});
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => void this.handle(stream, headers, Buffer.concat(chunks)));
  }

  private async handle(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, raw: Buffer): Promise<void> {
    const path = String(headers[':path']);
    const match = /^\/3\/device\/([^/?]+)$/.exec(path);
    if (headers[':method'] !== 'POST' || !match) return respond(stream, { status: 404, reason: 'BadPath' });
    const token = match[1] as string;
    const body = raw.toString('utf8');
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(body) as Record<string, unknown>;
    } catch {
      return respond(stream, { status: 400, reason: 'PayloadEmpty' });
    }
    const session = stream.session as ServerHttp2Session;
    const jwt = this.options.token ? decodeJwt(headers.authorization) : undefined;
    this.requests.push({ token, headers, body, bytes: raw.length, json, session: this.sessions.get(session) ?? 0, ...(jwt ? { jwt } : {}) });
    for (const wake of this.waiters.splice(0)) wake();

    const refusal = this.checkCredentials(session, headers.authorization);
    if (refusal) return respond(stream, refusal);
    if (this.stalled.has(session)) return;
    const answer = this.scripts.get(token)?.shift() ?? OK;
    if (answer === 'hang') return;
    if (answer.until) await answer.until.catch(() => {});
    respond(stream, answer, headers['apns-id']);
  }

  /** Provider tokens whose signature checked out: a client reuses one for up to an hour, and ECDSA is slow. */
  private readonly verifiedJwts = new Set<string>();

  private checkCredentials(session: ServerHttp2Session, authorization: string | undefined): Reply | undefined {
    const { token, certificate } = this.options;
    if (token) {
      if (!authorization?.startsWith('bearer ')) return { status: 403, reason: 'MissingProviderToken' };
      return verifyJwt(authorization.slice('bearer '.length), token, this.verifiedJwts) ? undefined : { status: 403, reason: 'InvalidProviderToken' };
    }
    if (certificate) {
      const socket = session.socket as TLSSocket;
      const peer = socket.getPeerX509Certificate();
      if (!peer || !socket.authorized) return { status: 403, reason: 'BadCertificate' };
      const parsed = forge.pki.certificateFromAsn1(forge.asn1.fromDer(peer.raw.toString('binary')));
      if (!(parsed.extensions as Array<{ id?: string }>).some((extension) => extension.id === APPLE_PUSH_OIDS[certificate])) return { status: 403, reason: 'BadCertificateEnvironment' };
    }
    return undefined;
  }
}

function respond(stream: ServerHttp2Stream, answer: Reply, apnsId?: string | string[]): void {
  if (stream.closed || stream.destroyed) return;
  const body = answer.status === 200 || answer.emptyBody ? '' : JSON.stringify({ reason: answer.reason });
  stream.respond({
    ':status': answer.status,
    ...(typeof apnsId === 'string' ? { 'apns-id': apnsId } : {}),
    ...(answer.retryAfter !== undefined ? { 'retry-after': answer.retryAfter } : {}),
    ...(body ? { 'content-type': 'application/json' } : {}),
  });
  stream.end(body);
}

function decodeJwt(authorization: string | undefined): RecordedRequest['jwt'] {
  const [header, claims] = (authorization ?? '').replace(/^bearer /, '').split('.');
  try {
    return {
      header: JSON.parse(Buffer.from(header ?? '', 'base64url').toString('utf8')) as Record<string, unknown>,
      claims: JSON.parse(Buffer.from(claims ?? '', 'base64url').toString('utf8')) as Record<string, unknown>,
    };
  } catch {
    return undefined;
  }
}

/** What Apple checks: an ES256 signature by the team's key, its key id, the team as issuer, a recent iat. */
function verifyJwt(jwt: string, expected: NonNullable<ApnsMockOptions['token']>, verified: Set<string>): boolean {
  const [header, claims, signature] = jwt.split('.');
  if (header === undefined || claims === undefined || signature === undefined) return false;
  const decoded = decodeJwt(`bearer ${jwt}`);
  if (!decoded || decoded.header.alg !== 'ES256' || decoded.header.kid !== expected.keyId || decoded.claims.iss !== expected.teamId) return false;
  const iat = decoded.claims.iat;
  if (typeof iat !== 'number' || Math.abs(Date.now() / 1000 - iat) > 3600) return false;
  if (verified.has(jwt)) return true;
  const good = verify('sha256', Buffer.from(`${header}.${claims}`), { key: expected.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
  if (good) verified.add(jwt);
  return good;
}
