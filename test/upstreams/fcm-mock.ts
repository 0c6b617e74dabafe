import { generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { ConcurrencyBarrier } from './concurrency-barrier';
import { setEnv } from './env';
import { tempDir } from './temp';

/** One scripted answer: an HTTP status with FCM's JSON error body, or a network misbehaviour. */
export interface Answer {
  readonly status?: number;
  readonly body?: unknown;
  /** Sent as the Retry-After header. */
  readonly retryAfter?: string;
  /** Never answer (until the mock closes): a request timeout. */
  readonly hang?: boolean;
  /** Drop the connection without answering. */
  readonly destroy?: boolean;
}

const FCM_ERROR_TYPE = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';

/** An FCM v1 error exactly as FCM writes it (google.rpc.Status with an FcmError detail). */
export function fcmError(code: number, status: string, message: string, errorCode?: string, retryAfter?: string): Answer {
  const details = errorCode ? [{ '@type': FCM_ERROR_TYPE, errorCode }] : [];
  return { status: code, body: { error: { code, message, status, details } }, ...(retryAfter ? { retryAfter } : {}) };
}

/** The error responses FCM v1 gives, by name. */
export const FCM = {
  ok: (): Answer => ({ status: 200 }),
  unregistered: () => fcmError(404, 'NOT_FOUND', 'Requested entity was not found.', 'UNREGISTERED'),
  invalidToken: () => fcmError(400, 'INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token', 'INVALID_ARGUMENT'),
  invalidArgument: (message = "Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), Field 'ttl', Illegal duration format") =>
    fcmError(400, 'INVALID_ARGUMENT', message, 'INVALID_ARGUMENT'),
  senderIdMismatch: () => fcmError(403, 'PERMISSION_DENIED', 'SenderId mismatch', 'SENDER_ID_MISMATCH'),
  thirdPartyAuth: () => fcmError(401, 'UNAUTHENTICATED', 'Auth error from APNS or Web Push Service', 'THIRD_PARTY_AUTH_ERROR'),
  permissionDenied: () =>
    fcmError(403, 'PERMISSION_DENIED', "Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/herald-test' (or it may not exist)."),
  unauthenticated: () =>
    fcmError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.'),
  quotaExceeded: (retryAfter?: string) => fcmError(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded for sending messages.', 'QUOTA_EXCEEDED', retryAfter),
  unavailable: (retryAfter?: string) => fcmError(503, 'UNAVAILABLE', 'The service is currently unavailable.', 'UNAVAILABLE', retryAfter),
  internal: () => fcmError(500, 'INTERNAL', 'Internal error encountered.', 'INTERNAL'),
};

export interface RecordedSend {
  readonly at: number;
  readonly path: string;
  readonly accessToken: string;
  readonly registrationToken: string;
  readonly message: Record<string, unknown>;
  readonly bytes: number;
  /** '1.1', or '2.0' when the mock serves TLS and the client chose HTTP/2. */
  readonly httpVersion: string;
}

type Request = IncomingMessage | Http2ServerRequest;
type Response = ServerResponse | Http2ServerResponse;

export interface RecordedTokenRequest {
  readonly at: number;
  readonly claims: Record<string, unknown>;
  readonly header: Record<string, unknown>;
}

/** Where google-auth-library addresses its assertions, whatever the key file's token_uri. */
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const METADATA_BASE = '/computeMetadata/v1';

/**
 * A real HTTP server on 127.0.0.1 playing FCM HTTP v1, Google's OAuth token endpoint and
 * the GCE metadata server (as GKE workload identity also presents it), with a freshly
 * generated service account whose `token_uri` points here. It verifies every assertion's
 * RS256 signature and every send's bearer token, answers each registration token from its
 * script (default: 200) and records everything.
 */
export class FcmMock {
  readonly projectId = 'herald-test';
  readonly clientEmail = 'herald@herald-test.iam.gserviceaccount.com';
  readonly sends: RecordedSend[] = [];
  readonly tokenRequests: RecordedTokenRequest[] = [];
  /** The `scopes` query of each token request to the metadata server. */
  readonly metadataTokenRequests: string[] = [];
  /** The service account the metadata server says the instance runs as. */
  readonly metadataAccount = 'herald-node@herald-test.iam.gserviceaccount.com';
  /** Sends refused because their bearer token was missing, unknown or expired. */
  readonly authFailures: string[] = [];
  /** Lifetime written into issued tokens (expires_in). */
  tokenLifetimeS = 3600;
  /** How long past expires_in the mock still accepts a token, so a slow machine does not fail sends. */
  tokenGraceMs = 60_000;
  /** Answers for the token endpoint, consumed in order; empty: issue a token. */
  readonly tokenScript: Answer[] = [];
  /** The token endpoint answers this whenever tokenScript is empty (e.g. always 500). */
  tokenDefault?: Answer;

  private readonly scripts = new Map<string, Answer[]>();
  private readonly defaults = new Map<string, Answer>();
  private readonly issued = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private readonly hanging = new Set<Response>();
  private readonly barrier = new ConcurrencyBarrier();
  private tokenHold?: Promise<void>;
  /** Token requests waiting on holdTokens(). */
  tokenHeld = 0;
  private server!: Server | Http2SecureServer;
  private dir!: string;
  url = '';
  serviceAccountFile = '';

  private constructor(private readonly publicKey: KeyObject) {}

  /**
   * `keys` lets a suite generate one RSA pair (slow) and share it. With `tls` (a server
   * key and certificate) the mock serves https and offers HTTP/2, as FCM does.
   */
  static async start(
    keys: { publicKey: KeyObject; privateKeyPem: string } = testKeys(),
    options: { tls?: { key: string; cert: string } } = {},
  ): Promise<FcmMock> {
    const mock = new FcmMock(keys.publicKey);
    const handler = (req: Request, res: Response) => void mock.handle(req, res);
    mock.server = options.tls ? createSecureServer({ ...options.tls, allowHTTP1: true }, handler) : createServer(handler);
    mock.server.on(options.tls ? 'secureConnection' : 'connection', (socket: Socket) => {
      mock.sockets.add(socket);
      socket.on('close', () => mock.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => mock.server.listen(0, '127.0.0.1', resolve));
    mock.url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${(mock.server.address() as AddressInfo).port}`;
    mock.dir = tempDir('fcm');
    mock.serviceAccountFile = join(mock.dir, 'service-account.json');
    writeFileSync(
      mock.serviceAccountFile,
      JSON.stringify({
        type: 'service_account',
        project_id: mock.projectId,
        private_key_id: 'test-key-1',
        private_key: keys.privateKeyPem,
        client_email: mock.clientEmail,
        client_id: '1234567890',
        auth_uri: 'https://accounts.google.com/o/oauth2/auth',
        token_uri: `${mock.url}/token`,
      }),
    );
    return mock;
  }

  get tokenUri(): string {
    return `${this.url}/token`;
  }

  /** host:port of the metadata server, for GCE_METADATA_HOST. */
  get metadataHost(): string {
    return new URL(this.url).host;
  }

  /** The environment in which google-auth-library takes this mock for the GCE metadata server. */
  metadataServerEnv(): Record<string, string> {
    return { GCE_METADATA_HOST: this.metadataHost, METADATA_SERVER_DETECTION: 'ping-only' };
  }

  /** Token requests (OAuth and metadata) wait unanswered until the returned function is called. */
  holdTokens(): () => void {
    let release!: () => void;
    this.tokenHold = new Promise<void>((resolve) => {
      release = resolve;
    });
    return () => {
      this.tokenHold = undefined;
      release();
    };
  }

  /** Answers for `registrationToken`, one per send, in order; then `then` (default 200) for good. */
  script(registrationToken: string, answers: Answer[], then: Answer = FCM.ok()): void {
    this.scripts.set(registrationToken, [...answers]);
    this.defaults.set(registrationToken, then);
  }

  /** The most sends in flight at once. */
  get maxInFlight(): number {
    return this.barrier.maxInFlight;
  }

  /** Holds every send's answer until `size` sends are in flight at once (proves concurrency). */
  holdUntilConcurrent(size: number): void {
    this.barrier.holdUntil(size);
  }

  /** Forget every issued token: the next send with one is answered 401. */
  revokeTokens(): void {
    this.issued.clear();
  }

  sendsTo(registrationToken: string): RecordedSend[] {
    return this.sends.filter((send) => send.registrationToken === registrationToken);
  }

  /** An `apps` entry for this mock; `credentials: 'adc'` leaves service_account_file out. */
  appYaml(appId: string, extra = '', credentials: 'file' | 'adc' = 'file'): string {
    return [
      `  ${JSON.stringify(appId)}:`,
      '    type: gcm',
      `    project_id: ${this.projectId}`,
      ...(credentials === 'file' ? [`    service_account_file: ${JSON.stringify(this.serviceAccountFile)}`] : []),
      `    endpoint: ${JSON.stringify(this.url)}`,
      ...extra.split('\n').filter((line) => line.trim()).map((line) => `    ${line.trim()}`),
    ].join('\n');
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async handle(req: Request, res: Response): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    if (req.method === 'POST' && req.url === '/token') {
      await this.held();
      return this.token(body, res);
    }
    if (req.method === 'GET' && req.url?.startsWith(`${METADATA_BASE}/`)) return this.metadata(req, res);
    const match = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(req.url ?? '');
    if (req.method === 'POST' && match) return this.send(match[1] as string, req, body, res);
    answer(res, { status: 404, body: '<html>not found</html>' });
  }

  private token(body: string, res: Response): void {
    const form = new URLSearchParams(body);
    const scripted = this.tokenScript.shift() ?? this.tokenDefault;
    const checked = this.checkAssertion(form);
    this.tokenRequests.push({ at: Date.now(), claims: checked.claims ?? {}, header: checked.header ?? {} });
    if (scripted) return answer(res, scripted);
    if (checked.error) return answer(res, { status: 400, body: { error: 'invalid_grant', error_description: checked.error } });
    answer(res, { status: 200, body: this.issue() });
  }

  /**
   * The metadata server's part of what GCE and GKE workload identity serve: the presence
   * check, the default service account's email and its access tokens (tokenScript applies).
   */
  private async metadata(req: Request, res: Response): Promise<void> {
    res.setHeader('metadata-flavor', 'Google');
    if (req.headers['metadata-flavor'] !== 'Google') return answer(res, { status: 403, body: 'Missing Metadata-Flavor:Google header.' });
    const url = new URL(req.url ?? '/', 'http://metadata');
    switch (url.pathname.slice(METADATA_BASE.length)) {
      case '/instance':
      case '/instance/':
        return answer(res, { status: 200, body: 'attributes/\nservice-accounts/\n' });
      case '/instance/service-accounts/default/email':
        return answer(res, { status: 200, body: this.metadataAccount });
      case '/instance/service-accounts/default/token': {
        this.metadataTokenRequests.push(url.searchParams.get('scopes') ?? '');
        await this.held();
        const scripted = this.tokenScript.shift() ?? this.tokenDefault;
        if (scripted) return answer(res, scripted);
        return answer(res, { status: 200, body: this.issue() });
      }
      default:
        return answer(res, { status: 404, body: 'not found' });
    }
  }

  private async held(): Promise<void> {
    if (!this.tokenHold) return;
    this.tokenHeld++;
    try {
      await this.tokenHold;
    } finally {
      this.tokenHeld--;
    }
  }

  private issue(): Record<string, unknown> {
    const accessToken = `ya29.test-${randomBytes(16).toString('hex')}`;
    this.issued.set(accessToken, Date.now() + this.tokenLifetimeS * 1000 + this.tokenGraceMs);
    return { access_token: accessToken, expires_in: this.tokenLifetimeS, token_type: 'Bearer' };
  }

  /** What Google checks: grant type, RS256 signature by the account's key, iss, aud, scope, times. */
  private checkAssertion(form: URLSearchParams): { error?: string; claims?: Record<string, unknown>; header?: Record<string, unknown> } {
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return { error: 'Invalid grant_type' };
    const parts = (form.get('assertion') ?? '').split('.');
    if (parts.length !== 3) return { error: 'Invalid JWT' };
    const [h, c, s] = parts as [string, string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>;
    const claims = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (header.alg !== 'RS256') return { error: 'Invalid JWT: alg', claims, header };
    if (!verify('sha256', Buffer.from(`${h}.${c}`), this.publicKey, Buffer.from(s, 'base64url'))) {
      return { error: 'Invalid JWT Signature.', claims, header };
    }
    const now = Date.now() / 1000;
    const iat = Number(claims.iat);
    const exp = Number(claims.exp);
    if (claims.iss !== this.clientEmail) return { error: 'Invalid JWT: iss', claims, header };
    // Google's own endpoint takes its URL; a token_uri elsewhere (this one) also takes its own.
    if (claims.aud !== this.tokenUri && claims.aud !== GOOGLE_TOKEN_URL) return { error: 'Invalid JWT: aud', claims, header };
    if (claims.scope !== FCM_SCOPE) return { error: 'Invalid JWT: scope', claims, header };
    if (!(Math.abs(iat - now) < 300 && exp > now && exp - iat <= 3600)) return { error: 'Invalid JWT: Token must be a short-lived token', claims, header };
    return { claims, header };
  }

  private async send(project: string, req: Request, body: string, res: Response): Promise<void> {
    const accessToken = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const validUntil = this.issued.get(accessToken);
    if (validUntil === undefined || validUntil < Date.now()) {
      this.authFailures.push(accessToken);
      return answer(res, FCM.unauthenticated());
    }
    const parsed = JSON.parse(body) as { message: Record<string, unknown> };
    const message = parsed.message;
    const registrationToken = String(message.token);
    this.sends.push({ at: Date.now(), path: req.url ?? '', accessToken, registrationToken, message, bytes: Buffer.byteLength(JSON.stringify(message)), httpVersion: req.httpVersion });
    if (project !== this.projectId) return answer(res, FCM.permissionDenied());
    const data = (message.data ?? {}) as Record<string, unknown>;
    if (Object.values(data).some((value) => typeof value !== 'string')) return answer(res, FCM.invalidArgument("Invalid value at 'message.data[0].value' (TYPE_STRING)"));

    await this.barrier.wait();
    const script = this.scripts.get(registrationToken);
    const next = script?.shift() ?? this.defaults.get(registrationToken) ?? FCM.ok();
    if (next.hang) {
      this.hanging.add(res);
      return;
    }
    if (next.destroy) {
      req.socket.destroy();
      return;
    }
    if (next.status === 200 || next.status === undefined) {
      return answer(res, { status: 200, body: { name: `projects/${this.projectId}/messages/${randomBytes(8).toString('hex')}` } });
    }
    answer(res, next);
  }
}

function answer(res: Response, a: Answer): void {
  const text = typeof a.body === 'string' ? a.body : JSON.stringify(a.body ?? {});
  res.statusCode = a.status ?? 200;
  res.setHeader('content-type', typeof a.body === 'string' ? 'text/html' : 'application/json; charset=UTF-8');
  if (a.retryAfter) res.setHeader('retry-after', a.retryAfter);
  res.end(text);
}

/**
 * Sets the environment for one test so that no Application Default Credentials of this
 * machine are found (the variable in either case, gcloud's configuration directory), then
 * `extra`; returns the function that puts the environment back.
 */
export function noAmbientCredentials(extra: Record<string, string | undefined> = {}): () => void {
  return setEnv({ GOOGLE_APPLICATION_CREDENTIALS: undefined, google_application_credentials: undefined, CLOUDSDK_CONFIG: tempDir('gcloud'), ...extra });
}

let shared: { publicKey: KeyObject; privateKeyPem: string } | undefined;

/** One RSA key pair per test process: generating one takes a while on a small machine. */
export function testKeys(): { publicKey: KeyObject; privateKeyPem: string } {
  if (!shared) {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    shared = { publicKey: pair.publicKey, privateKeyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
  }
  return shared;
}
