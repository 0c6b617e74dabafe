import { statusCounters } from '../../metrics/metrics';
import type { Device, Notification } from '../../notification/types';
import { connectionFailureText, errorText } from '../../util/error-text';
import { UpstreamClient } from '../../upstream/client';
import type { DispatchContext, DispatchOutcome, Pushkin, PushkinEnv, SendCapacity } from '../pushkin';
import { DEFAULT_RETRY_POLICY, parseRetryAfter, sendRetryHooks, withRetries, type RetryPolicy } from '../retry';
import { AccessTokenSource, signIn, type SignIn } from './auth';
import type { FcmConfig } from './config';
import { GoogleTransport } from './google-transport';
import { buildMessage, type FcmMessage } from './payload';
import { classifyFcmError, parseFcmError, TokenError } from './reasons';

/** How long `herald check-config` waits to learn which account ADC act as. */
const DESCRIBE_TIMEOUT_MS = 5_000;
/** Error bodies are small; anything past this is not FCM talking. */
const MAX_BODY_BYTES = 64 * 1024;

/** Sends to FCM HTTP v1 (`type: gcm`, alias `fcm`): one message per device, concurrently. */
export class FcmPushkin implements Pushkin {
  readonly type = 'gcm';
  readonly name: string;
  readonly sends: SendCapacity;
  private readonly fcm: UpstreamClient;
  private readonly sendUrl: URL;
  private readonly statusCount: (status: number) => { inc(): void };

  /** Signs in (for ADC, finds the credentials) and builds the pushkin. */
  static async create(config: FcmConfig, env: PushkinEnv, policy: RetryPolicy = DEFAULT_RETRY_POLICY): Promise<FcmPushkin> {
    const transport = new GoogleTransport({
      timeoutMs: config.requestTimeoutMs,
      ...(config.ca !== undefined ? { ca: config.ca } : {}),
      proxyFor: (target) => env.proxyFor(target),
    });
    let credentials: SignIn;
    try {
      credentials = await signIn(env.name, config, transport);
    } catch (err) {
      await transport.close();
      throw err;
    }
    env.log.info({ credentials: credentials.source, project_id: config.projectId }, 'FCM pushkin ready');
    return new FcmPushkin(config, env, policy, transport, credentials, new AccessTokenSource(credentials.client, env.log, (reason) => env.metrics.fcmTokenErrors.labels(env.name, reason).inc()));
  }

  private constructor(
    private readonly config: FcmConfig,
    private readonly env: PushkinEnv,
    private readonly policy: RetryPolicy,
    private readonly transport: GoogleTransport,
    private readonly credentials: SignIn,
    private readonly tokens: AccessTokenSource,
  ) {
    this.name = env.name;
    const { metrics } = env;
    this.fcm = new UpstreamClient({
      connections: config.maxConnections,
      timeoutMs: config.requestTimeoutMs,
      maxBodyBytes: MAX_BODY_BYTES,
      ...(config.ca !== undefined ? { ca: config.ca } : {}),
      proxyFor: (target) => env.proxyFor(target),
      metrics: { active: metrics.activeGcmRequests, requestTime: metrics.gcmRequestTime },
    });
    this.sends = { capacity: this.fcm.capacity(config.endpoint), pending: metrics.pendingGcmRequests, queueTime: metrics.gcmQueueTime };
    this.statusCount = statusCounters(metrics.gcmStatusCodes, this.name);
    const endpoint = new URL(config.endpoint);
    const basePath = endpoint.pathname.replace(/\/+$/, '');
    this.sendUrl = new URL(`${basePath}/v1/projects/${encodeURIComponent(config.projectId)}/messages:send`, endpoint.origin);
  }

  async dispatch(notification: Notification, device: Device, ctx: DispatchContext): Promise<DispatchOutcome> {
    const built = buildMessage(notification, device, this.config);
    if (built.kind !== 'send') {
      if (built.kind === 'skipped') ctx.log.debug({ reason: built.reason }, 'nothing sent to FCM');
      else ctx.log.warn({ reason: built.reason }, `not sent to FCM: ${built.kind}`);
      return built;
    }
    if (built.shortened) ctx.log.info('message text shortened to fit FCM\'s 4096-byte limit');

    const body = `{"message":${built.json}}`;
    // A token refused with 401 is renewed once per device; a second refusal is our configuration.
    const state = { renewedToken: false };
    return withRetries(() => this.attempt(body, built.message, ctx, state), this.policy, ctx, this.env.clock, sendRetryHooks(this.env, ctx, 'FCM send'));
  }

  private async attempt(body: string, message: FcmMessage, ctx: DispatchContext, state: { renewedToken: boolean }): Promise<DispatchOutcome> {
    for (;;) {
      let accessToken: string;
      try {
        accessToken = await this.tokens.get(ctx.signal);
      } catch (err) {
        return this.tokenFailure(err, ctx);
      }
      const outcome = await this.send(body, accessToken, message, ctx);
      if (outcome !== 'renew-token') return outcome;
      this.tokens.invalidate(accessToken);
      if (state.renewedToken) return this.misconfigured(ctx, 'UNAUTHENTICATED', 'FCM refused a freshly issued access token (401)');
      state.renewedToken = true;
      ctx.log.info('FCM refused the access token; renewing it');
    }
  }

  private async send(body: string, accessToken: string, message: FcmMessage, ctx: DispatchContext): Promise<DispatchOutcome | 'renew-token'> {
    let response;
    try {
      response = await this.fcm.send(
        this.sendUrl,
        { headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${accessToken}` }, body },
        ctx.signal,
      );
    } catch (err) {
      this.statusCount(0).inc();
      ctx.trace?.upstream(0);
      const reason = ctx.signal.aborted ? 'FCM did not answer before the deadline' : connectionFailureText('FCM', err);
      ctx.log.warn({ reason }, 'FCM send failed');
      return { kind: 'retry', reason };
    }
    this.statusCount(response.status).inc();
    ctx.trace?.upstream(response.status);
    if (response.status >= 200 && response.status < 300) return { kind: 'delivered' };

    const error = parseFcmError(response.status, response.body);
    const classified = classifyFcmError(error, parseRetryAfter(response.headers['retry-after'], this.env.clock.now()));
    // FCM's own words, for the operator; scrubbed of the token in case FCM ever echoes it.
    const detail = {
      status: response.status,
      fcm_status: error.status,
      fcm_error_code: error.errorCode,
      fcm_message: error.message?.split(message.token).join('[token]').slice(0, 500),
    };
    switch (classified.kind) {
      case 'renew-token':
        return 'renew-token';
      case 'misconfigured':
        return this.misconfigured(ctx, classified.label, classified.reason, detail);
      case 'rejected':
        ctx.log.info(detail, `pushkey rejected: ${classified.reason}`);
        return classified;
      case 'failed':
        ctx.log.warn(detail, `FCM refused the message: ${classified.reason}`);
        return classified;
      case 'retry':
        ctx.log.info(detail, `FCM temporarily unavailable: ${classified.reason}`);
        return classified;
    }
  }

  private tokenFailure(err: unknown, ctx: DispatchContext): DispatchOutcome {
    if (err instanceof TokenError) {
      if (err.kind === 'misconfigured') return this.misconfigured(ctx, err.label, `cannot obtain an FCM access token: ${err.message}`);
      ctx.log.warn({ reason: err.message }, 'cannot obtain an FCM access token');
      return { kind: 'retry', reason: `FCM access token: ${err.message}`, ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}) };
    }
    // The deadline passed while waiting for the shared token request.
    return { kind: 'retry', reason: ctx.signal.aborted ? 'no FCM access token before the deadline' : `FCM access token: ${errorText(err)}` };
  }

  /** Our configuration or credentials are wrong: loud, counted, and never a rejection. */
  private misconfigured(ctx: DispatchContext, label: string, reason: string, detail: object = {}): DispatchOutcome {
    this.env.metrics.configurationErrors.labels(this.name, label).inc();
    ctx.log.error({ ...detail, project_id: this.config.projectId }, `FCM configuration problem: ${reason}`);
    return { kind: 'misconfigured', reason };
  }

  /** The credentials found at start-up and the account they act as, for `herald check-config`. */
  async describe(): Promise<Record<string, string>> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('unknown: no answer in time'), DESCRIBE_TIMEOUT_MS);
    });
    const account = await Promise.race([
      this.credentials.account().then(
        (email) => email ?? 'unknown',
        (err: unknown) => `unknown: ${errorText(err)}`,
      ),
      timeout,
    ]);
    clearTimeout(timer);
    return { credentials: this.credentials.source, account };
  }

  async close(): Promise<void> {
    await Promise.all([this.fcm.close(), this.transport.close()]);
  }
}
