import { statusCounters } from '../../metrics/metrics';
import type { Device, Notification } from '../../notification/types';
import type { UpstreamAnswer, UpstreamClient } from '../../upstream/client';
import { checkEndpoint, userEndpointClient, userEndpointPolicy, type EndpointPolicy, type EndpointRefusal } from '../../upstream/endpoint';
import { errorText } from '../../util/error-text';
import type { DispatchContext, DispatchOutcome, Pushkin, PushkinEnv, SendCapacity } from '../pushkin';
import { DEFAULT_RETRY_POLICY, parseRetryAfter, sendRetryHooks, withRetries, type RetryPolicy } from '../retry';
import type { UnifiedPushConfig } from './config';
import { HostMemory } from './memory';
import { buildForward, MAX_PUSHKEY_BYTES } from './payload';
import { connectRefusal, verdictOf, type ConnectRefusal } from './reasons';

/** Distributors answer with short JSON (ntfy: the message's id and topic); nothing past this is read. */
const MAX_ANSWER_BYTES = 8 * 1024;

/**
 * Herald as the Matrix gateway of UnifiedPush (`type: unifiedpush`): the pushkey is the
 * endpoint URL of the user's distributor (ntfy, NextPush, Gotify…), and each device's
 * notification is POSTed there as the common-proxies gateway posts it. The endpoint is
 * the user's choice, so it passes the same checks as a Web Push endpoint.
 */
export class UnifiedPushPushkin implements Pushkin {
  readonly type = 'unifiedpush';
  readonly name: string;
  readonly sends: SendCapacity;
  private readonly client: UpstreamClient;
  private readonly policy: EndpointPolicy;
  private readonly memory: HostMemory;
  private readonly headers: Record<string, string>;
  private readonly statusCount: (status: number) => { inc(): void };

  constructor(
    private readonly config: UnifiedPushConfig,
    private readonly env: PushkinEnv,
    private readonly retryPolicy: RetryPolicy = DEFAULT_RETRY_POLICY,
  ) {
    this.name = env.name;
    const { metrics } = env;
    this.client = userEndpointClient(config, {
      maxBodyBytes: MAX_ANSWER_BYTES,
      proxyFor: (target) => env.proxyFor(target),
      metrics: { active: metrics.activeUnifiedpushRequests, requestTime: metrics.unifiedpushRequestTime },
    });
    this.sends = { capacity: this.client.capacity(), pending: metrics.pendingUnifiedpushRequests, queueTime: metrics.unifiedpushQueueTime };
    this.policy = userEndpointPolicy(config, true);
    this.memory = new HostMemory(env.clock, config.rememberRefusedMs, config.rememberUnavailableMs);
    // As common-proxies sends them. The body is not encrypted: some distributors take only
    // messages labelled aes128gcm (RFC 8291), as UnifiedPush endpoints are Web Push endpoints.
    this.headers = { 'content-type': 'application/json', ttl: String(config.ttl), 'content-encoding': 'aes128gcm' };
    this.statusCount = statusCounters(metrics.unifiedpushStatusCodes, this.name);
    // Series from start-up, so a rate() alert sees the first refusal.
    for (const reason of ['not_allowed', 'private_address', 'unreachable'] as const) metrics.unifiedpushEndpointsRefused.labels(this.name, reason).inc(0);
  }

  async dispatch(notification: Notification, device: Device, ctx: DispatchContext): Promise<DispatchOutcome> {
    if (Buffer.byteLength(device.pushkey) > MAX_PUSHKEY_BYTES) return this.reject(ctx, `pushkey is longer than ${MAX_PUSHKEY_BYTES} bytes`);
    const endpoint = checkEndpoint(device.pushkey, this.policy, 'pushkey');
    if (endpoint.kind === 'invalid') return this.reject(ctx, endpoint.reason);
    if (endpoint.kind === 'refused') return this.refused(ctx, endpoint.refusal, endpoint.reason);
    const url = endpoint.url;

    const forward = buildForward(notification, device, this.config.maxBodyBytes);
    if (forward.kind === 'failed') {
      ctx.log.warn({ reason: forward.reason }, `not sent to the distributor: ${forward.reason}`);
      return forward;
    }
    if (forward.trimmed !== undefined) ctx.log.info({ trimmed: forward.trimmed, max_body_bytes: this.config.maxBodyBytes }, 'notification shortened to fit max_body_bytes');

    return withRetries((attempt) => this.attempt(url, forward.body, ctx, attempt), this.retryPolicy, ctx, this.env.clock, sendRetryHooks(this.env, ctx, 'UnifiedPush send', { host: url.host }));
  }

  /** One POST; the host's remembered state answers instead on a device's first attempt (a retry asks the host again). */
  private async attempt(url: URL, body: string, ctx: DispatchContext, attemptNumber: number): Promise<DispatchOutcome> {
    const remembered = attemptNumber === 0 ? this.memory.recall(url.host) : undefined;
    if (remembered?.kind === 'refused') return this.refused(ctx, remembered.refusal, `${remembered.reason} (remembered)`);
    if (remembered?.kind === 'unavailable') {
      ctx.log.debug({ host: url.host, reason: remembered.reason }, 'distributor remembered as unavailable; not sent now');
      return { kind: 'retry', reason: `${remembered.reason} (remembered)`, retryAfterMs: remembered.retryAfterMs };
    }

    let response: UpstreamAnswer;
    try {
      response = await this.client.send(url, { headers: this.headers, body }, ctx.signal);
    } catch (err) {
      const refusal = connectRefusal(err);
      if (refusal !== undefined) {
        this.memory.refused(url.host, refusal.refusal, refusal.reason);
        return this.refused(ctx, refusal.refusal, refusal.reason);
      }
      this.statusCount(0).inc();
      const reason = ctx.signal.aborted ? 'the distributor did not answer before the deadline' : `distributor unreachable or timed out: ${errorText(err)}`;
      if (!ctx.signal.aborted) this.memory.unavailable(url.host, reason, undefined);
      ctx.log.warn({ host: url.host, reason }, 'UnifiedPush send failed');
      return { kind: 'retry', reason };
    }
    this.statusCount(response.status).inc();
    const retryAfterMs = parseRetryAfter(response.headers['retry-after'], this.env.clock.now());
    const verdict = verdictOf(response.status, retryAfterMs);
    if (verdict.remember === 'unavailable') this.memory.unavailable(url.host, verdict.outcome.kind === 'retry' ? verdict.outcome.reason : '', retryAfterMs);
    else this.memory.forget(url.host);
    if (verdict.outcome.kind !== 'delivered') {
      // The host and status only: the endpoint's path, and the topic a distributor echoes in its body, are the capability to push to the user.
      const message = verdict.outcome.kind === 'rejected' ? `rejecting pushkey: ${verdict.outcome.reason}` : verdict.outcome.reason;
      ctx.log[verdict.level]({ host: url.host, status: response.status }, message);
    }
    return verdict.outcome;
  }

  private reject(ctx: DispatchContext, reason: string): DispatchOutcome {
    ctx.log.info({ reason }, `rejecting pushkey: ${reason}`);
    return { kind: 'rejected', reason };
  }

  /**
   * The endpoint is not sent to. A host that resolves to a private address, does not
   * exist or fails TLS can never be a distributor: the pushkey is rejected. A host outside
   * allowed_endpoints is Herald's policy (the operator may be missing a distributor): the
   * pushkey is kept and the device fails (502).
   */
  private refused(ctx: DispatchContext, refusal: EndpointRefusal | ConnectRefusal, reason: string): DispatchOutcome {
    this.env.metrics.unifiedpushEndpointsRefused.labels(this.name, refusal).inc();
    if (refusal === 'not_allowed') {
      ctx.log.warn({ refusal, reason }, `not sent: ${reason}`);
      return { kind: 'failed', reason };
    }
    return this.reject(ctx, reason);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
