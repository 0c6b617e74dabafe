import { createDecipheriv, createECDH, createPublicKey, hkdfSync, randomBytes, verify, type ECDH } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { ConcurrencyBarrier } from './concurrency-barrier';

type Request = IncomingMessage | Http2ServerRequest;
type Response = ServerResponse | Http2ServerResponse;

/** One scripted answer of the push service. */
export interface PushAnswer {
  readonly status: number;
  readonly retryAfter?: string;
  readonly body?: string;
}

/** A subscription as a browser's PushManager makes it, with the private half the mock keeps. */
export interface MockSubscription {
  readonly id: string;
  readonly endpoint: string;
  /** The pushkey. */
  readonly p256dh: string;
  readonly auth: string;
}

/** What the mock saw for one message, after decrypting it and checking its VAPID authorization. */
export interface ReceivedPush {
  readonly at: number;
  readonly subscription: string;
  readonly httpVersion: string;
  readonly ttl?: string;
  readonly urgency?: string;
  readonly topic?: string;
  readonly contentEncoding?: string;
  /** The decrypted payload, parsed. */
  readonly payload: Record<string, unknown>;
  readonly plaintext: string;
  readonly vapid: { readonly aud: unknown; readonly exp: unknown; readonly sub: unknown; readonly publicKey: string };
}

/**
 * A Web Push service (RFC 8030) on 127.0.0.1 over TLS, HTTP/2 and HTTP/1.1, that checks
 * what a real one checks and more: it verifies the VAPID JWT (ES256 with the key in
 * `k=`, `aud` = this origin, `exp` within 24 h, `sub` a mailto:) and DECRYPTS each
 * message (RFC 8291 aes128gcm) with the subscription's private key and auth secret, so
 * tests assert on the plaintext the browser would get. A message failing either check is
 * answered 400/403 and recorded in `problems`.
 */
export class WebPushMock {
  readonly received: ReceivedPush[] = [];
  readonly problems: string[] = [];
  /** Requests to an endpoint, whatever became of them (scripted answers included). */
  readonly attempts: Array<{ readonly subscription: string; readonly at: number }> = [];
  private readonly keys = new Map<string, { ecdh: ECDH; auth: Buffer }>();
  private readonly scripts = new Map<string, PushAnswer[]>();
  private readonly defaults = new Map<string, PushAnswer>();
  private readonly sockets = new Set<Socket>();
  /** TLS connections accepted so far. */
  connections = 0;
  private readonly barrier = new ConcurrencyBarrier();
  private server!: Http2SecureServer | HttpsServer;
  origin = '';

  /** Offers HTTP/2 and HTTP/1.1 (ALPN), or only HTTP/1.1 with `http1Only`. */
  static async start(tls: { key: string; cert: string }, options: { http1Only?: boolean } = {}): Promise<WebPushMock> {
    const mock = new WebPushMock();
    const handler = (req: Request, res: Response) => void mock.handle(req, res);
    mock.server = options.http1Only ? createHttpsServer(tls, handler) : createSecureServer({ ...tls, allowHTTP1: true }, handler);
    mock.server.on('secureConnection', (socket: Socket) => {
      mock.connections++;
      mock.sockets.add(socket);
      socket.on('close', () => mock.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => mock.server.listen(0, '127.0.0.1', resolve));
    mock.origin = `https://127.0.0.1:${(mock.server.address() as AddressInfo).port}`;
    return mock;
  }

  /** A new subscription on this service, as `pushManager.subscribe()` would return. */
  subscribe(host = '127.0.0.1'): MockSubscription {
    const id = randomBytes(12).toString('base64url');
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const auth = randomBytes(16);
    this.keys.set(id, { ecdh, auth });
    const port = new URL(this.origin).port;
    return { id, endpoint: `https://${host}:${port}/wpush/v2/${id}`, p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') };
  }

  /** Answers for `subscription`, one per request, in order; then `then` (default 201) for good. */
  script(subscription: MockSubscription, answers: PushAnswer[], then: PushAnswer = { status: 201 }): void {
    this.scripts.set(subscription.id, [...answers]);
    this.defaults.set(subscription.id, then);
  }

  /** The most requests in flight at once. */
  get maxInFlight(): number {
    return this.barrier.maxInFlight;
  }

  /** Holds every answer until `size` requests are in flight at once (proves concurrency). */
  holdUntilConcurrent(size: number): void {
    this.barrier.holdUntil(size);
  }

  receivedBy(subscription: MockSubscription): ReceivedPush[] {
    return this.received.filter((push) => push.subscription === subscription.id);
  }

  attemptsFor(subscription: MockSubscription): number {
    return this.attempts.filter((attempt) => attempt.subscription === subscription.id).length;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: Request, res: Response): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const id = /^\/wpush\/v2\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '')?.[1];
    const keys = id !== undefined ? this.keys.get(id) : undefined;
    if (req.method !== 'POST' || id === undefined || keys === undefined) return reply(res, { status: 404 });
    this.attempts.push({ subscription: id, at: Date.now() });
    await this.barrier.wait();

    const scripted = this.scripts.get(id)?.shift() ?? this.defaults.get(id);
    if (scripted && scripted.status !== 201) return reply(res, scripted);

    const vapid = this.checkVapid(req.headers.authorization);
    if ('problem' in vapid) {
      this.problems.push(vapid.problem);
      return reply(res, { status: 403, body: JSON.stringify({ reason: vapid.problem }) });
    }
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(',') : value;
    };
    if (header('content-encoding') !== 'aes128gcm') {
      this.problems.push(`content-encoding ${String(header('content-encoding'))}`);
      return reply(res, { status: 400 });
    }
    let plaintext: string;
    try {
      plaintext = decrypt(body, keys.ecdh, keys.auth).toString('utf8');
    } catch (err) {
      this.problems.push(`cannot decrypt: ${(err as Error).message}`);
      return reply(res, { status: 400 });
    }
    this.received.push({
      at: Date.now(),
      subscription: id,
      httpVersion: req.httpVersion,
      ttl: header('ttl'),
      urgency: header('urgency'),
      topic: header('topic'),
      contentEncoding: header('content-encoding'),
      payload: JSON.parse(plaintext) as Record<string, unknown>,
      plaintext,
      vapid: vapid.claims,
    });
    reply(res, { status: 201 });
  }


  /** RFC 8292: `vapid t=<JWT>, k=<public key>`, the JWT signed ES256 by that key, for this origin. */
  private checkVapid(authorization: string | undefined): { claims: ReceivedPush['vapid'] } | { problem: string } {
    const match = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(authorization ?? '');
    if (!match) return { problem: `not a VAPID authorization: ${String(authorization)}` };
    const [, token, k] = match as unknown as [string, string, string];
    const point = Buffer.from(k, 'base64url');
    if (point.length !== 65 || point[0] !== 4) return { problem: 'k is not an uncompressed P-256 point' };
    const publicKey = createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') },
      format: 'jwk',
    });
    const [h, c, s] = token.split('.') as [string, string, string];
    const jwtHeader = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>;
    const claims = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (jwtHeader.alg !== 'ES256') return { problem: `JWT alg ${String(jwtHeader.alg)}` };
    if (!verify('sha256', Buffer.from(`${h}.${c}`), { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'))) {
      return { problem: 'JWT signature does not verify with k' };
    }
    const now = Date.now() / 1000;
    if (claims.aud !== this.origin) return { problem: `aud ${String(claims.aud)} is not ${this.origin}` };
    if (typeof claims.exp !== 'number' || claims.exp <= now || claims.exp > now + 24 * 3600) return { problem: `exp ${String(claims.exp)} not within 24 h` };
    if (typeof claims.sub !== 'string' || !/^mailto:[^@\s]+@[^@\s]+$/.test(claims.sub)) return { problem: `sub ${String(claims.sub)} is not a mailto: address` };
    return { claims: { aud: claims.aud, exp: claims.exp, sub: claims.sub, publicKey: k } };
  }
}

/**
 * RFC 8291 decryption of an aes128gcm body (RFC 8188, one record): header salt(16) |
 * rs(4) | idlen(1) | keyid (the sender's ephemeral public key), then the record.
 */
export function decrypt(body: Buffer, receiver: ECDH, authSecret: Buffer): Buffer {
  const salt = body.subarray(0, 16);
  const idlen = body.readUInt8(20);
  const senderPublic = body.subarray(21, 21 + idlen);
  const record = body.subarray(21 + idlen);
  if (idlen !== 65) throw new Error(`keyid is ${idlen} bytes, not a P-256 public key`);
  const sharedSecret = receiver.computeSecret(senderPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), receiver.getPublicKey(), senderPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', sharedSecret, authSecret, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - 16));
  const padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  // The last record ends with the delimiter 0x02, then zero padding.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 2) throw new Error('no last-record delimiter');
  return padded.subarray(0, end);
}

function reply(res: Response, answer: PushAnswer): void {
  res.statusCode = answer.status;
  if (answer.retryAfter !== undefined) res.setHeader('retry-after', answer.retryAfter);
  res.end(answer.body ?? '');
}
