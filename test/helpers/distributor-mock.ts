import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

/** One scripted answer of the distributor for a topic. */
export interface DistributorAnswer {
  readonly status: number;
  readonly retryAfter?: string;
  /** A redirect's target. */
  readonly location?: string;
  /** Never answer (until the client gives up). */
  readonly hang?: boolean;
}

/** A message the distributor accepted and would deliver to the app. */
export interface Delivered {
  readonly topic: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/**
 * A UnifiedPush distributor on 127.0.0.1 that answers as ntfy does: a POST to a known
 * topic is 200 with the message as JSON (id, time, event, topic), an unknown topic 404
 * with ntfy's error JSON, a body over `maxMessageBytes` 413; scripted answers (429 with
 * Retry-After, 5xx, 410, a redirect, no answer) replace these per topic. Plain http, or
 * https with `tls`.
 */
export class DistributorMock {
  readonly delivered: Delivered[] = [];
  /** Requests per topic, whatever became of them. */
  private readonly attempts = new Map<string, number>();
  private readonly topics = new Set<string>();
  private readonly scripts = new Map<string, DistributorAnswer[]>();
  private readonly sockets = new Set<Socket>();
  private server!: Server;
  /** Connections accepted (TLS handshakes started, over https). */
  connections = 0;
  origin = '';

  private constructor(private readonly maxMessageBytes: number) {}

  static async start(options: { tls?: { key: string; cert: string }; maxMessageBytes?: number } = {}): Promise<DistributorMock> {
    const mock = new DistributorMock(options.maxMessageBytes ?? 4096);
    const handler = (req: IncomingMessage, res: ServerResponse) => void mock.handle(req, res);
    mock.server = options.tls ? createHttpsServer(options.tls, handler) : createServer(handler);
    mock.server.on('connection', (socket: Socket) => {
      mock.connections++;
      mock.sockets.add(socket);
      socket.on('close', () => mock.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => mock.server.listen(0, '127.0.0.1', resolve));
    mock.origin = `${options.tls ? 'https' : 'http'}://127.0.0.1:${(mock.server.address() as AddressInfo).port}`;
    return mock;
  }

  /** host:port, for allowed_endpoints. */
  get host(): string {
    return new URL(this.origin).host;
  }

  /** A new topic and its endpoint, as ntfy hands one to an app (`https://ntfy.sh/upXXXX?up=1`); `host` replaces 127.0.0.1. */
  subscribe(host?: string): { topic: string; endpoint: string } {
    const topic = `up${randomBytes(9).toString('base64url')}`;
    this.topics.add(topic);
    const url = new URL(`${this.origin}/${topic}?up=1`);
    if (host !== undefined) url.hostname = host;
    return { topic, endpoint: url.href };
  }

  /** An endpoint on this distributor for a topic it does not know. */
  unknownEndpoint(): string {
    return `${this.origin}/up${randomBytes(9).toString('base64url')}?up=1`;
  }

  script(topic: string, ...answers: DistributorAnswer[]): void {
    this.scripts.set(topic, answers);
  }

  attemptsFor(topic: string): number {
    return this.attempts.get(topic) ?? 0;
  }

  deliveredTo(topic: string): Delivered[] {
    return this.delivered.filter((message) => message.topic === topic);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const topic = new URL(req.url ?? '/', this.origin).pathname.slice(1);
    this.attempts.set(topic, this.attemptsFor(topic) + 1);
    const scripted = this.scripts.get(topic)?.shift();
    if (scripted?.hang) return;
    if (scripted) {
      res.writeHead(scripted.status, {
        'content-type': 'application/json',
        ...(scripted.retryAfter !== undefined ? { 'retry-after': scripted.retryAfter } : {}),
        ...(scripted.location !== undefined ? { location: scripted.location } : {}),
      });
      res.end(JSON.stringify({ code: scripted.status * 100 + 1, http: scripted.status, error: 'scripted answer' }));
      return;
    }
    if (req.method !== 'POST' && req.method !== 'PUT') return this.error(res, 405, 'method not allowed');
    if (!this.topics.has(topic)) return this.error(res, 404, 'topic not found');
    if (body.length > this.maxMessageBytes) return this.error(res, 413, 'request entity too large');
    this.delivered.push({ topic, headers: req.headers, body: body.toString('utf8') });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: randomBytes(6).toString('hex'), time: Math.floor(Date.now() / 1000), event: 'message', topic }));
  }

  private error(res: ServerResponse, status: number, error: string): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ code: status * 100 + 1, http: status, error }));
  }
}
