import { Compute, gaxios, GoogleAuth, JWT, type AuthClient } from 'google-auth-library';
import { isPlainObject } from '../../config/section';
import { errorText } from '../../util/error-text';
import type { Logger } from '../../util/log';
import { parseRetryAfter } from '../retry';
import { isHttpUrl, type FcmConfig } from './config';
import type { GoogleTransport } from './google-transport';
import { TokenError } from './reasons';

export const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
/** A token this close to expiry is not used even when its renewal has failed. */
const EXPIRY_SAFETY_MS = 10_000;

/** An app's credentials, signed in through google-auth-library. */
export interface SignIn {
  readonly client: AuthClient;
  /** Which credentials these are, for the operator; never a secret. */
  readonly source: string;
  /** The account they act as, when it can be found (for ADC on Google Cloud, asks the metadata server). */
  account(): Promise<string | undefined>;
}

/**
 * The google-auth-library client for an app: a JWT client for its service-account file,
 * or whatever Application Default Credentials resolve to. Throws, naming the app, when
 * ADC find no credentials (the library probes the metadata server last) or name a bad
 * `token_uri`.
 */
export async function signIn(app: string, config: FcmConfig, transport: GoogleTransport): Promise<SignIn> {
  const credentials = config.credentials;
  if (credentials.kind === 'service_account_file') {
    const { account } = credentials;
    transport.useTokenUri(account.tokenUri);
    const client = new JWT({
      email: account.clientEmail,
      key: account.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      scopes: [FCM_SCOPE],
      transporter: transport.gaxios,
    });
    return { client, source: `service account file ${credentials.file}`, account: async () => account.clientEmail };
  }

  // projectId given, so the library never goes looking for one (gcloud, the metadata server).
  const auth = new GoogleAuth({ scopes: [FCM_SCOPE], projectId: config.projectId, clientOptions: { transporter: transport.gaxios } });
  let client: AuthClient;
  try {
    client = await auth.getClient();
  } catch (err) {
    throw new Error(
      `FCM app ${app}: no service_account_file, and no usable Application Default Credentials ` +
        `(GOOGLE_APPLICATION_CREDENTIALS, gcloud's application-default file, the GCE / GKE metadata server): ${errorText(err)}`,
    );
  }
  // The credentials file ADC read, if any: its token_uri is honoured as service_account_file's is.
  const file: unknown = auth.jsonContent;
  const tokenUri = isPlainObject(file) ? file.token_uri : undefined;
  if (tokenUri !== undefined) {
    if (typeof tokenUri !== 'string' || !isHttpUrl(tokenUri)) {
      throw new Error(`FCM app ${app}: the Application Default Credentials file has a "token_uri" that is not an http(s) URL`);
    }
    transport.useTokenUri(tokenUri);
  }
  const type = isPlainObject(file) && typeof file.type === 'string' ? file.type : undefined;
  return {
    client,
    source: `Application Default Credentials: ${adcSource(client, type)}`,
    account: async () => (await auth.getCredentials()).client_email,
  };
}

/** Where ADC found the credentials, in the order google-auth-library looks. */
function adcSource(client: AuthClient, type: string | undefined): string {
  const file = process.env.GOOGLE_APPLICATION_CREDENTIALS || process.env.google_application_credentials;
  if (file) return `GOOGLE_APPLICATION_CREDENTIALS=${file}${type ? ` (${type})` : ''}`;
  if (client instanceof Compute) {
    const host = process.env.GCE_METADATA_IP || process.env.GCE_METADATA_HOST;
    return `the metadata server (GCE, GKE workload identity)${host ? ` at ${host}` : ''}`;
  }
  return `gcloud's application-default credentials file${type ? ` (${type})` : ''}`;
}

interface CurrentToken {
  readonly token: string;
  readonly expiresAt: number;
}

/**
 * Access tokens for every send of one app. google-auth-library caches the token, renews
 * it five minutes before it expires and makes one request however many sends wait for
 * it; on top of that a send stops waiting at its own deadline, a renewal that fails while
 * the current token still has time left keeps that token in use, a token FCM refused is
 * dropped, and failures are classified: temporary, or our credentials.
 */
export class AccessTokenSource {
  private current?: CurrentToken;

  constructor(
    private readonly client: AuthClient,
    private readonly log: Logger,
    /** herald_fcm_token_errors_total, by reason (tokenErrorReason). */
    private readonly countError: (reason: string) => void = () => {},
  ) {}

  /** A valid access token; throws TokenError when none can be had, or the signal's reason if it aborts first. */
  async get(signal: AbortSignal): Promise<string> {
    if (signal.aborted) throw signal.reason;
    const issuing = this.client.getAccessToken();
    // Every waiter may give up (deadline) before a renewal fails: its failure must
    // then not become an unhandled rejection, which would end the process.
    issuing.catch(() => {});
    let token: string | null | undefined;
    try {
      token = (await untilAborted(issuing, signal)).token;
      if (!token) throw new TokenError('no access token in the answer', 'retry', 'token_endpoint_bad_answer');
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      const failure = tokenFailure(err);
      this.countError(tokenErrorReason(failure));
      const current = this.current;
      // The library keeps time with Date.now(), so this does too.
      if (current && Date.now() < current.expiresAt - EXPIRY_SAFETY_MS) {
        this.log.warn({ err: failure.message }, 'could not renew the FCM access token; using the current one until it expires');
        return current.token;
      }
      throw failure;
    }
    if (token !== this.current?.token) {
      const expiresAt = this.client.credentials.expiry_date ?? 0;
      this.current = { token, expiresAt };
      this.log.info({ expires_in_s: Math.max(0, Math.round((expiresAt - Date.now()) / 1000)) }, 'obtained an FCM access token');
    }
    return token;
  }

  /** FCM refused `token`: forget it so the next `get` fetches another. */
  invalidate(token: string): void {
    if (this.current?.token !== token) return; // another send has already had it renewed
    this.current = undefined;
    // What the library's own clients start from: an expired token, so the next call signs in afresh.
    this.client.setCredentials({ ...this.client.credentials, access_token: null, expiry_date: 1 });
  }
}

/** The `reason` label of herald_fcm_token_errors_total: a few fixed values (an OAuth error code is the endpoint's text). */
export function tokenErrorReason(failure: TokenError): string {
  if (failure.label.startsWith('oauth_')) return 'refused';
  return failure.label.replace(/^token_endpoint_/, '');
}

/** What a failed sign-in means for the send: temporary, or our credentials. */
export function tokenFailure(err: unknown): TokenError {
  if (err instanceof TokenError) return err;
  if (!(err instanceof gaxios.GaxiosError)) {
    // The answer had no usable token (a 200 without access_token, a metadata server that is not one…).
    return new TokenError(`no access token: ${errorText(err)}`, 'retry', 'token_endpoint_bad_answer');
  }
  const response = err.response;
  if (!response) return new TokenError(`token endpoint unreachable: ${errorText(err.cause ?? err)}`, 'retry', 'token_endpoint_unreachable');
  const { status } = response;
  const body: unknown = response.data;
  const error = isPlainObject(body) && typeof body.error === 'string' ? body.error : undefined;
  const description = isPlainObject(body) && typeof body.error_description === 'string' ? body.error_description.slice(0, 300) : undefined;
  const what = `token endpoint answered ${status}${error ? ` ${error}` : ''}${description ? `: ${description}` : ''}`;
  if (status === 408 || status === 429 || status >= 500) {
    return new TokenError(what, 'retry', 'token_endpoint_unavailable', parseRetryAfter(response.headers.get('retry-after') ?? undefined, Date.now()));
  }
  // invalid_grant (key revoked or deleted, clock skew), invalid_client, a wrong token_uri…: our credentials.
  return new TokenError(what, 'misconfigured', `oauth_${error ?? status}`);
}

/** `promise`, unless `signal` aborts first (the shared renewal keeps running for the others). */
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
