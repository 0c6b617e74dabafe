import { statusCounters, type Metrics } from '../../metrics/metrics';
import type { Device, Notification } from '../../notification/types';
import type { Clock } from '../../util/clock';
import type { Logger } from '../../util/log';
import { startTunnelRelay, type TunnelRelay } from '../../util/proxy';
import type { DispatchContext, DispatchOutcome, Pushkin, PushkinEnv } from '../pushkin';
import { DEFAULT_RETRY_POLICY, withRetries, type RetryPolicy } from '../retry';
import type { ApnsConfig } from './config';
import { verdictOf } from './outcome';
import { buildPayload, DISABLE_BADGE_KEYS, type PayloadResult } from './payload';
import { ApnsTransport, providerOptions, type ApnsAnswer, type ApnsRequest } from './provider';
import { RejectionGuard, SUSPECT_LIMIT } from './rejection-guard';
import { deviceToken } from './token';
import { apnsSummary } from './type';
import { MAX_PAYLOAD_BYTES, MAX_VOIP_PAYLOAD_BYTES, truncatePayload } from './truncate';

/**
 * One APNs app. One device: pushkey → token (token.ts) → payload (payload.ts,
 * truncate.ts) → send (provider.ts), retried within the request's deadline → the
 * answer's outcome (outcome.ts, reasons.ts). This file only wires them together and
 * does the logging and metrics.
 */
export class ApnsPushkin implements Pushkin {
  readonly type = 'apns';
  private readonly metrics: Metrics;
  private readonly clock: Clock;
  /** The pushkin's logger, for level checks: a device's own logger is made only to write a line. */
  private readonly log: Logger;
  private readonly retryPolicy: RetryPolicy = DEFAULT_RETRY_POLICY;
  private readonly rejectionGuard = new RejectionGuard();
  private readonly maxPayloadBytes: number;
  private readonly statusCount: (status: number) => { inc(): void };
  /** Payloads of the notifications being dispatched, by the device fields they depend on (payloadFor). */
  private readonly payloads = new WeakMap<Notification, Map<string, PreparedPayload>>();

  private constructor(
    readonly name: string,
    private readonly config: ApnsConfig,
    private readonly transport: ApnsTransport,
    env: PushkinEnv,
    private readonly relay: TunnelRelay | undefined,
  ) {
    this.metrics = env.metrics;
    this.clock = env.clock;
    this.log = env.log;
    this.statusCount = statusCounters(env.metrics.apnsStatusCodes, name);
    // Apple allows VoIP pushes a larger payload than the rest.
    this.maxPayloadBytes = config.pushType === 'voip' ? MAX_VOIP_PAYLOAD_BYTES : MAX_PAYLOAD_BYTES;
  }

  static async create(config: ApnsConfig, env: PushkinEnv): Promise<ApnsPushkin> {
    const relay = await proxyRelay(config, env);
    let transport: ApnsTransport;
    try {
      transport = new ApnsTransport(providerOptions(config, relay), config.maxConnections, env.log);
    } catch (err) {
      await relay?.close();
      // node-apn re-checks the credentials when it is built; say which app failed.
      throw new Error(`apps.${JSON.stringify(env.name)}: cannot set up APNs: ${(err as Error).message}`, { cause: err });
    }
    if (config.auth?.kind === 'certificate') env.metrics.clientCertExpiry.labels(env.name).set(Math.floor(config.auth.notAfter / 1000));
    env.log.info(apnsSummary(config), 'APNs pushkin ready');
    return new ApnsPushkin(env.name, config, transport, env, relay);
  }

  async dispatch(notification: Notification, device: Device, ctx: DispatchContext): Promise<DispatchOutcome> {
    const token = deviceToken(device.pushkey, this.config.convertDeviceTokenToHex);
    if (!token.ok) {
      ctx.log.info({ problem: token.reason }, 'rejecting pushkey: it cannot be an APNs device token');
      return { kind: 'rejected', reason: `pushkey is not an APNs device token: ${token.reason}` };
    }
    const { built, fitted } = this.payloadFor(notification, device);
    if (built.kind === 'invalid') {
      ctx.log.info({ problem: built.reason }, 'rejecting pushkey: its pusher data can never produce a payload');
      return { kind: 'rejected', reason: built.reason };
    }
    if (built.kind === 'skip') {
      if (this.log.isLevelEnabled('debug')) ctx.log.debug({ why: built.reason }, 'nothing to send to APNs');
      return { kind: 'skipped', reason: built.reason };
    }
    if (fitted === undefined || !fitted.ok) {
      ctx.log.error(
        { format: built.format, bytes: fitted?.bytes, limit: this.maxPayloadBytes },
        'APNs payload too large even with its alert text emptied (is the pusher\'s default_payload too big?); not sent',
      );
      return { kind: 'failed', reason: `payload of ${fitted?.bytes} bytes cannot fit APNs' ${this.maxPayloadBytes}-byte limit` };
    }
    if (fitted.truncated && this.log.isLevelEnabled('debug')) ctx.log.debug({ bytes: fitted.bytes, original_bytes: Buffer.byteLength(JSON.stringify(built.payload)) }, 'APNs payload truncated');

    const request: ApnsRequest = {
      token: token.hex,
      payload: fitted.payload,
      // Apple: 5 lets the device save power; background pushes must use it.
      priority: notification.prio === 'low' || this.config.pushType === 'background' ? 5 : 10,
      ...(this.config.topic !== undefined ? { topic: this.config.topic } : {}),
      ...(this.config.pushType !== undefined ? { pushType: this.config.pushType } : {}),
    };
    return withRetries((attempt) => this.attempt(request, ctx, attempt), this.retryPolicy, ctx, this.clock, {
      onRetry: (outcome, delayMs) => {
        this.metrics.retries.labels(this.name).inc();
        ctx.log.debug({ why: outcome.reason, delay_ms: Math.round(delayMs) }, 'retrying APNs request');
      },
      // The device is given up on for lack of time, and the homeserver retries.
      onDeadline: (outcome) => {
        this.metrics.deadlineExceeded.labels(this.name).inc();
        ctx.log.warn({ why: outcome.reason }, 'no time left to retry the APNs request; the homeserver will retry');
      },
    });
  }

  /**
   * The payload for `device`, built and fitted once per notification for every device of
   * this app whose pusher data shape it the same way (most of a fan-out): the payload
   * depends on the notification and on only these three things of a device (what
   * buildPayload reads of it: a new one read there must join this key).
   */
  private payloadFor(notification: Notification, device: Device): PreparedPayload {
    const key = JSON.stringify([device.data.default_payload ?? null, DISABLE_BADGE_KEYS.map((k) => device.data[k] === true), device.tweaks.sound ?? null]);
    let prepared = this.payloads.get(notification);
    if (prepared === undefined) {
      prepared = new Map();
      this.payloads.set(notification, prepared);
    }
    let entry = prepared.get(key);
    if (entry === undefined) {
      const built = buildPayload(notification, device, { sendBadgeCounts: this.config.sendBadgeCounts });
      entry = { built, ...(built.kind === 'send' ? { fitted: truncatePayload(built.payload, this.maxPayloadBytes) } : {}) };
      prepared.set(key, entry);
    }
    return entry;
  }

  async close(): Promise<void> {
    await this.transport.close();
    await this.relay?.close();
  }

  private async attempt(request: ApnsRequest, ctx: DispatchContext, attempt: number): Promise<DispatchOutcome> {
    const active = this.metrics.activeApnsRequests;
    const stopTimer = this.metrics.apnsRequestTime.startTimer();
    active.inc();
    let answer: ApnsAnswer;
    try {
      answer = await this.transport.send(request);
    } finally {
      stopTimer();
      active.dec();
    }
    this.statusCount(answer.kind === 'answer' ? answer.status : 0).inc();
    ctx.trace?.upstream(answer.kind === 'answer' ? answer.status : 0);
    const verdict = verdictOf(answer, { attempt, tokenAuth: this.config.auth?.kind === 'token' });
    if (verdict.outcome.kind === 'delivered') this.rejectionGuard.delivered();
    if (verdict.outcome.kind === 'rejected' && answer.kind === 'answer' && this.rejectionGuard.misconfigured(answer.reason, request.token)) {
      this.metrics.configurationErrors.labels(this.name, `${answer.reason ?? ''} for every device`).inc();
      ctx.log.error(
        { status: answer.status, reason: answer.reason, devices: SUSPECT_LIMIT, platform: this.config.platform, topic: this.config.topic },
        `APNs answered ${answer.reason} for ${SUSPECT_LIMIT} different devices in a row: the platform (sandbox/production) or topic is probably wrong; the pushkey is kept`,
      );
      return { kind: 'misconfigured', reason: `${answer.reason} for every recent device: check platform and topic` };
    }
    if (verdict.configurationError !== undefined) this.metrics.configurationErrors.labels(this.name, verdict.configurationError).inc();
    if (this.log.isLevelEnabled(verdict.log.level)) ctx.log[verdict.log.level]({ ...verdict.log.fields, apns_id: answer.apnsId }, verdict.log.msg);
    return verdict.outcome;
  }
}

interface PreparedPayload {
  readonly built: PayloadResult;
  /** Present when `built` is to be sent. */
  readonly fitted?: ReturnType<typeof truncatePayload>;
}

const APPLE_HOSTS = { production: 'https://api.push.apple.com', sandbox: 'https://api.sandbox.push.apple.com' } as const;

/**
 * The relay carrying this app's APNs connections through the outbound proxy, if one
 * applies to its host (see providerOptions: TLS, with the client certificate of
 * certificate authentication, runs end to end inside the tunnel).
 */
async function proxyRelay(config: ApnsConfig, env: PushkinEnv): Promise<TunnelRelay | undefined> {
  const target = config.endpoint?.url ?? APPLE_HOSTS[config.platform];
  const proxy = env.proxyFor(target);
  if (proxy === undefined) return undefined;
  const proxyUrl = new URL(proxy);
  const { hostname, port } = new URL(target);
  // Logged without the proxy's credentials.
  const where = { proxy: proxyUrl.host };
  return startTunnelRelay(proxyUrl, `${hostname}:${port || 443}`, (problem) => env.log.warn(where, `APNs connection through the proxy failed: ${problem}`));
}
