import { sign } from 'node:crypto';
import type { Clock } from '../../util/clock';
import type { Logger } from '../../util/log';
import type { ServiceAccount } from './config';
import { errorText, type Upstream } from './client';
import { parseRetryAfter } from './reasons';

export const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Google accepts assertions valid for at most an hour. */
const ASSERTION_LIFETIME_S = 3600;
/** Refresh this long before expiry (or at half the lifetime for short-lived tokens), so no send carries a dying token. */
const REFRESH_MARGIN_MS = 5 * 60_000;
/** A token this close to expiry is not used even when a refresh has failed. */
const EXPIRY_SAFETY_MS = 10_000;

/** Why no access token could be had: temporary (`retry`) or our credentials (`misconfigured`). */
export class TokenError extends Error {
  constructor(
    message: string,
    readonly kind: 'retry' | 'misconfigured',
    readonly label: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'TokenError';
  }
}

interface CachedToken {
  readonly token: string;
  readonly refreshAt: number;
  readonly expiresAt: number;
}

/**
 * OAuth2 access tokens for a service account (RFC 7523 JWT bearer grant), posted to the
 * account's own `token_uri`. One token is cached and shared by every send; when it needs
 * renewing, a single request is made and every waiting send shares its answer.
 */
export class AccessTokenSource {
  private current?: CachedToken;
  private refreshing?: Promise<CachedToken>;
  private readonly closing = new AbortController();
  private readonly tokenPath: string;

  constructor(
    private readonly account: ServiceAccount,
    private readonly upstream: Upstream,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    const url = new URL(account.tokenUri);
    this.tokenPath = `${url.pathname}${url.search}`;
  }

  /** A valid access token; throws TokenError when none can be had, or the signal's reason if it aborts first. */
  async get(signal: AbortSignal): Promise<string> {
    const cached = this.current;
    if (cached && this.clock.now() < cached.refreshAt) return cached.token;
    if (signal.aborted) throw signal.reason;
    this.refreshing ??= this.refresh().finally(() => {
      this.refreshing = undefined;
    });
    // Every waiter may give up (deadline) before the refresh fails: its failure must
    // then not become an unhandled rejection, which would end the process.
    this.refreshing.catch(() => {});
    try {
      return (await untilAborted(this.refreshing, signal)).token;
    } catch (err) {
      // Renewal failed but the old token still has a while to live: keep sending with it.
      if (!signal.aborted && cached && this.clock.now() < cached.expiresAt - EXPIRY_SAFETY_MS) {
        this.log.warn({ err: errorText(err) }, 'could not renew the FCM access token; using the current one until it expires');
        return cached.token;
      }
      throw err;
    }
  }

  /** FCM refused `token`: forget it so the next `get` fetches another. */
  invalidate(token: string): void {
    if (this.current?.token === token) this.current = undefined;
  }

  close(): void {
    this.closing.abort(new Error('FCM pushkin closed'));
  }

  private async refresh(): Promise<CachedToken> {
    const started = this.clock.now();
    const body = new URLSearchParams({ grant_type: JWT_BEARER, assertion: signAssertion(this.account, started) }).toString();
    let response;
    try {
      // Not tied to any one send's deadline: the answer serves everyone waiting.
      response = await this.upstream.post(
        this.tokenPath,
        { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
        this.closing.signal,
      );
    } catch (err) {
      throw new TokenError(`token endpoint unreachable: ${errorText(err)}`, 'retry', 'token_endpoint_unreachable');
    }
    if (response.status !== 200) throw this.refusal(response.status, response.body, response.headers['retry-after']);

    const parsed = safeJson(response.body);
    const token = parsed?.access_token;
    if (typeof token !== 'string' || token === '') {
      throw new TokenError('token endpoint answered 200 without an access_token', 'retry', 'token_endpoint_bad_answer');
    }
    const lifetimeMs = (typeof parsed?.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : 3600) * 1000;
    const cached = {
      token,
      expiresAt: started + lifetimeMs,
      refreshAt: started + lifetimeMs - Math.min(REFRESH_MARGIN_MS, lifetimeMs / 2),
    };
    this.current = cached;
    this.log.info({ expires_in_s: lifetimeMs / 1000 }, 'obtained an FCM access token');
    return cached;
  }

  private refusal(status: number, body: string, retryAfter: string | string[] | undefined): TokenError {
    const parsed = safeJson(body);
    const error = typeof parsed?.error === 'string' ? parsed.error : undefined;
    const description = typeof parsed?.error_description === 'string' ? parsed.error_description.slice(0, 300) : undefined;
    const what = `token endpoint answered ${status}${error ? ` ${error}` : ''}${description ? `: ${description}` : ''}`;
    if (status === 408 || status === 429 || status >= 500) {
      return new TokenError(what, 'retry', 'token_endpoint_unavailable', parseRetryAfter(retryAfter, this.clock.now()));
    }
    // invalid_grant (key revoked or deleted, clock skew), invalid_client, a wrong token_uri…: our credentials.
    return new TokenError(what, 'misconfigured', `oauth_${error ?? status}`);
  }
}

/** The RS256-signed JWT assertion of the JWT bearer grant, with `aud` = the account's token_uri. */
export function signAssertion(account: ServiceAccount, nowMs: number): string {
  const iat = Math.floor(nowMs / 1000);
  const header = { alg: 'RS256', typ: 'JWT', ...(account.privateKeyId ? { kid: account.privateKeyId } : {}) };
  const claims = { iss: account.clientEmail, scope: FCM_SCOPE, aud: account.tokenUri, iat, exp: iat + ASSERTION_LIFETIME_S };
  const input = `${base64url(header)}.${base64url(claims)}`;
  const signature = sign('sha256', Buffer.from(input), account.privateKey).toString('base64url');
  return `${input}.${signature}`;
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function safeJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** `promise`, unless `signal` aborts first (the shared refresh keeps running for the others). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
