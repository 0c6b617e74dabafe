import { generateRequestDetails } from 'web-push';
import { statusCounters } from '../../metrics/metrics';
import type { Device, Notification } from '../../notification/types';
import { connectionFailureText, errorText } from '../../util/error-text';
import type { UpstreamAnswer, UpstreamClient } from '../../upstream/client';
import { checkEndpoint, EndpointRefusedError, userEndpointClient, userEndpointPolicy, type EndpointPolicy, type EndpointRefusal } from '../../upstream/endpoint';
import type { DispatchContext, DispatchOutcome, Pushkin, PushkinEnv, SendCapacity } from '../pushkin';
import { DEFAULT_RETRY_POLICY, parseRetryAfter, sendRetryHooks, withRetries, type RetryPolicy } from '../retry';
import type { WebPushConfig } from './config';
import { buildWebPush, type WebPushMessage } from './payload';
import { verdictOf } from './reasons';
import { VapidSigner } from './signer';

/** Push services answer with empty or short bodies; nothing past this is read. */
const MAX_BODY_BYTES = 8 * 1024;

/** An encrypted, signed request ready to POST (and to POST again on a retry). */
interface PreparedRequest {
  readonly url: URL;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/** Sends to browsers' push services (`type: webpush`): RFC 8030 with aes128gcm (RFC 8291) and VAPID (RFC 8292). */
export class WebPushPushkin implements Pushkin {
  readonly type = 'webpush';
  readonly name: string;
  readonly sends: SendCapacity;
  private readonly client: UpstreamClient;
  private readonly signer: VapidSigner;
  private readonly policy: EndpointPolicy;
  private readonly statusCount: (status: number) => { inc(): void };

  constructor(
    private readonly config: WebPushConfig,
    private readonly env: PushkinEnv,
    private readonly retryPolicy: RetryPolicy = DEFAULT_RETRY_POLICY,
  ) {
    this.name = env.name;
    const { metrics } = env;
    this.client = userEndpointClient(config, {
      maxBodyBytes: MAX_BODY_BYTES,
      proxyFor: (target) => env.proxyFor(target),
      metrics: { active: metrics.activeWebpushRequests, requestTime: metrics.webpushRequestTime },
    });
    this.sends = { capacity: this.client.capacity(), pending: metrics.pendingWebpushRequests, queueTime: metrics.webpushQueueTime };
    this.signer = new VapidSigner(config.vapid, config.subject, env.clock);
    this.statusCount = statusCounters(metrics.webpushStatusCodes, this.name);
    this.policy = userEndpointPolicy(config);
    // Series from start-up, so a rate() alert sees the first refusal.
    for (const refusal of ['not_allowed', 'private_address'] as const) env.metrics.webpushEndpointsRefused.labels(this.name, refusal).inc(0);
  }

  async dispatch(notification: Notification, device: Device, ctx: DispatchContext): Promise<DispatchOutcome> {
    const built = buildWebPush(notification, device);
    if (built.kind === 'skipped') {
      ctx.log.debug({ reason: built.reason }, 'nothing sent to the push service');
      return built;
    }
    if (built.kind === 'rejected') {
      ctx.log.info({ reason: built.reason }, `rejecting pushkey: ${built.reason}`);
      return built;
    }
    const endpoint = checkEndpoint(built.message.endpoint, this.policy);
    if (endpoint.kind === 'invalid') {
      ctx.log.info({ reason: endpoint.reason }, `rejecting pushkey: ${endpoint.reason}`);
      return { kind: 'rejected', reason: endpoint.reason };
    }
    if (endpoint.kind === 'refused') return this.refused(ctx, endpoint.refusal, endpoint.reason);

    let authorization: string;
    try {
      authorization = this.signer.authorization(endpoint.url.origin);
    } catch (err) {
      // Our key or contact, never the user's subscription: keep the pushkey.
      this.env.metrics.configurationErrors.labels(this.name, 'VAPID_SIGNING').inc();
      ctx.log.error({ reason: errorText(err) }, 'Web Push configuration problem: cannot sign the VAPID JWT');
      return { kind: 'misconfigured', reason: 'cannot sign the VAPID JWT' };
    }
    const prepared = this.prepare(built.message, endpoint.url, authorization);
    if ('problem' in prepared) {
      ctx.log.info({ reason: prepared.problem }, `rejecting pushkey: ${prepared.problem}`);
      return { kind: 'rejected', reason: prepared.problem };
    }
    return withRetries(() => this.send(prepared, ctx), this.retryPolicy, ctx, this.env.clock, sendRetryHooks(this.env, ctx, 'Web Push send'));
  }

  /** Encrypts the payload for the subscription, once for every attempt; a problem here is the subscription's keys. */
  private prepare(message: WebPushMessage, url: URL, authorization: string): PreparedRequest | { problem: string } {
    let details: { headers: Record<string, string | number>; body: Buffer };
    try {
      details = generateRequestDetails({ endpoint: message.endpoint, keys: { p256dh: message.p256dh, auth: message.auth } }, message.payload, {
        contentEncoding: 'aes128gcm',
        TTL: this.config.ttl,
        urgency: message.urgency,
        // Signed by VapidSigner, once per push service per hour, rather than by web-push for every
        // message; no vapidDetails (Herald never calls web-push's global setVapidDetails either).
        headers: { Authorization: authorization },
        ...(message.topic !== undefined ? { topic: message.topic } : {}),
      });
    } catch {
      // web-push's message may quote the key: say only what is wrong.
      return { problem: 'the subscription keys (pushkey, data.auth) cannot be used for encryption' };
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(details.headers)) headers[name.toLowerCase()] = String(value);
    return { url, headers, body: details.body };
  }

  private async send(request: PreparedRequest, ctx: DispatchContext): Promise<DispatchOutcome> {
    const metrics = this.env.metrics;
    let response: UpstreamAnswer;
    try {
      response = await this.client.send(request.url, { headers: request.headers, body: request.body }, ctx.signal);
    } catch (err) {
      if (err instanceof EndpointRefusedError) return this.refused(ctx, 'private_address', err.message);
      this.statusCount(0).inc();
      ctx.trace?.upstream(0);
      const reason = ctx.signal.aborted ? 'the push service did not answer before the deadline' : connectionFailureText('push service', err);
      ctx.log.warn({ host: request.url.host, reason }, 'Web Push send failed');
      return { kind: 'retry', reason };
    }
    this.statusCount(response.status).inc();
    ctx.trace?.upstream(response.status);
    const verdict = verdictOf(response.status, parseRetryAfter(response.headers['retry-after'], this.env.clock.now()));
    if (verdict.configurationError !== undefined) metrics.configurationErrors.labels(this.name, verdict.configurationError).inc();
    if (verdict.outcome.kind !== 'delivered') {
      // The push service's own words, for the operator; never the endpoint (a capability to push to the user).
      const detail = { host: request.url.host, status: response.status, body: response.body.split(request.url.pathname).join('[endpoint]').slice(0, 300) };
      const message = verdict.outcome.kind === 'rejected' ? `rejecting pushkey: ${verdict.outcome.reason}` : verdict.outcome.reason;
      ctx.log[verdict.level](detail, verdict.configurationError !== undefined ? `Web Push configuration problem: ${message}` : message);
    }
    return verdict.outcome;
  }

  /**
   * Herald's policy refuses the endpoint: nothing is sent and the pushkey is kept (the
   * operator may be missing a push service in allowed_endpoints), so the device fails
   * (502) rather than counting as delivered.
   */
  private refused(ctx: DispatchContext, refusal: EndpointRefusal, reason: string): DispatchOutcome {
    this.env.metrics.webpushEndpointsRefused.labels(this.name, refusal).inc();
    ctx.log.warn({ refusal, reason }, `not sent: ${reason}`);
    return { kind: 'failed', reason };
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
