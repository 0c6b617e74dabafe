import { randomBytes } from 'node:crypto';
import type { Counter } from 'prom-client';
import { createClient } from 'redis';
import type { Clock } from '../util/clock';
import type { Logger } from '../util/log';
import { rejectionKey, type DeliveryClaim, type PushStore, type StoreHealth } from './store';

export interface RedisStoreOptions {
  /** redis:// or rediss:// (TLS), with the password in it if any. */
  readonly url: string;
  /** Put before every key, so several gateways (or other programs) can share one Redis. */
  readonly keyPrefix: string;
  /** The longest any store call may take before Herald goes on without it. */
  readonly timeoutMs: number;
  readonly rejectedTtlSeconds: number;
  readonly dedupTtlSeconds: number;
  readonly log: Logger;
  /** herald_store_errors_total, by operation. */
  readonly errors: Counter<'operation'>;
  /** Time for the skip after a timeout; by default performance.now(), which never jumps. */
  readonly clock?: Pick<Clock, 'now'>;
}

/** The store's operations, as named in logs and in herald_store_errors_total. */
const OPERATIONS = ['is_rejected', 'remember_rejected', 'claim_delivery', 'remember_delivered', 'release_delivery', 'connection'] as const;
type Operation = (typeof OPERATIONS)[number];

/** A delivered marker's value; a claim's is CLAIM_PREFIX plus the claiming process's id. */
const DELIVERED = 'd';
const CLAIM_PREFIX = 'c:';
/** Deletes a claim only if this process still holds it (it may have lapsed and been taken since). */
const RELEASE_OWN_CLAIM = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/** At most one "store unavailable" line per this interval; the others are counted in it. */
const LOG_INTERVAL_MS = 10_000;
const RECONNECT_MAX_DELAY_MS = 2_000;
const CONNECT_TIMEOUT_MS = 2_000;
/** How long start-up waits for Redis before serving without it. */
const OPEN_WAIT_MS = 5_000;
/**
 * After a call times out, the next calls skip Redis for this long: a frozen or overloaded
 * Redis then costs each notification nothing, instead of a timeout per call.
 */
const SKIP_AFTER_TIMEOUT_MS = 1_000;
/** Commands waiting beyond this fail at once instead of queueing while Redis is slow. */
const MAX_QUEUED_COMMANDS = 10_000;

/**
 * The store shared through Redis by every worker and every instance. Keys (after the
 * prefix): `r:<rejectionKey>` = "1" for a dead pushkey, expiring after the rejection
 * window; `d:<deliveryKey>` = "c:<process id>" while a process sends it (expiring after
 * the claim's hold time), then "d" for the de-duplication window.
 *
 * Redis is an aid, never a gate: a call that fails or takes longer than `timeoutMs`
 * answers as if nothing were remembered (not rejected, free to send) so notifications
 * still go out — a possible duplicate is the lesser evil — and is logged at a bounded
 * rate and counted. The client reconnects by itself; until it has, calls fail at once,
 * as they do for a second after a timeout.
 */
export class RedisStore implements PushStore {
  private readonly client: ReturnType<typeof createClient>;
  private readonly claimValue = CLAIM_PREFIX + randomBytes(6).toString('base64');
  /** The last failure's message while it is more recent than the last success. */
  private failure: string | undefined;
  private lastLogAt = -Infinity;
  /** After a timeout, calls skip Redis until then (on `clock`). */
  private skipUntil = 0;
  private readonly clock: Pick<Clock, 'now'>;
  private unlogged = 0;
  private closed = false;

  constructor(private readonly options: RedisStoreOptions) {
    this.clock = options.clock ?? performance;
    for (const operation of OPERATIONS) options.errors.labels(operation).inc(0);
    this.client = createClient({
      url: options.url,
      keyPrefix: options.keyPrefix,
      // Fail at once while disconnected rather than queue behind a reconnection.
      disableOfflineQueue: true,
      commandsQueueMaxLength: MAX_QUEUED_COMMANDS,
      socket: {
        connectTimeout: CONNECT_TIMEOUT_MS,
        reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, RECONNECT_MAX_DELAY_MS),
      },
    });
    this.client.on('error', (err: unknown) => {
      if (!this.closed) this.failed('connection', err);
    });
    this.client.on('ready', () => {
      if (this.failure !== undefined) options.log.info('store reachable again');
      this.failure = undefined;
    });
  }

  async open(): Promise<void> {
    if (this.client.isOpen) return;
    const ready = new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.client.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, OPEN_WAIT_MS).unref();
      this.client.on('ready', done);
    });
    // Not awaited: the client keeps reconnecting in the background, and Herald serves
    // (degraded) while Redis is unreachable.
    this.client.connect().catch((err: unknown) => {
      if (!this.closed) this.failed('connection', err);
    });
    await ready;
    if (!this.client.isReady && !this.closed) {
      this.options.log.warn({ wait_ms: OPEN_WAIT_MS }, 'Redis not reachable at start-up; serving without it until it is');
    }
  }

  async isRejected(appId: string, pushkey: string): Promise<boolean> {
    return (await this.call('is_rejected', 0, () => this.client.exists(`r:${rejectionKey(appId, pushkey)}`))) > 0;
  }

  async rememberRejected(appId: string, pushkey: string): Promise<void> {
    await this.call('remember_rejected', null, () =>
      this.client.set(`r:${rejectionKey(appId, pushkey)}`, '1', { expiration: { type: 'EX', value: this.options.rejectedTtlSeconds } }),
    );
  }

  claimDelivery(key: string, holdMs: number): Promise<DeliveryClaim> {
    // Unreachable: send (the claim cannot be shared, so a duplicate is possible).
    return this.call('claim_delivery', 'claimed', async (): Promise<DeliveryClaim> => {
      const set = await this.client.set(`d:${key}`, this.claimValue, { condition: 'NX', expiration: { type: 'PX', value: holdMs } });
      if (set !== null) return 'claimed';
      // Taken: by a delivery, or by a send in flight. Gone meanwhile (released or lapsed):
      // the caller asks again shortly, as for a send in flight.
      return (await this.client.get(`d:${key}`)) === DELIVERED ? 'delivered' : 'in-flight';
    });
  }

  async rememberDelivered(key: string): Promise<void> {
    await this.call('remember_delivered', null, () =>
      this.client.set(`d:${key}`, DELIVERED, { expiration: { type: 'EX', value: this.options.dedupTtlSeconds } }),
    );
  }

  async releaseDelivery(key: string): Promise<void> {
    await this.call('release_delivery', null, () => this.client.eval(RELEASE_OWN_CLAIM, { keys: [`d:${key}`], arguments: [this.claimValue] }));
  }

  health(): StoreHealth {
    if (!this.client.isReady) return { state: 'degraded', reason: `redis unreachable${this.failure ? `: ${this.failure}` : ''}` };
    if (this.failure !== undefined) return { state: 'degraded', reason: `redis: ${this.failure}` };
    return { state: 'ok' };
  }

  async close(): Promise<void> {
    this.closed = true;
    // Every request has been answered by now: nothing is waiting for a reply worth having.
    if (this.client.isOpen) this.client.destroy();
  }

  /** Runs `command` within the timeout; on failure records it and answers `fallback`. */
  private async call<T>(operation: Operation, fallback: T, command: () => Promise<T>): Promise<T> {
    if (!this.client.isReady) {
      this.failed(operation, new Error('not connected'));
      return fallback;
    }
    if (this.clock.now() < this.skipUntil) {
      this.failed(operation, new Error(`skipped for ${SKIP_AFTER_TIMEOUT_MS} ms after a timeout`));
      return fallback;
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        this.skipUntil = this.clock.now() + SKIP_AFTER_TIMEOUT_MS;
        reject(new Error(`no answer within ${this.options.timeoutMs} ms`));
      }, this.options.timeoutMs);
    });
    try {
      const result = await Promise.race([command(), timeout]);
      this.failure = undefined;
      return result;
    } catch (err) {
      this.failed(operation, err);
      return fallback;
    } finally {
      clearTimeout(timer);
    }
  }

  private failed(operation: Operation, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.failure = message;
    this.options.errors.labels(operation).inc();
    const now = performance.now();
    if (now - this.lastLogAt < LOG_INTERVAL_MS) {
      this.unlogged++;
      return;
    }
    this.options.log.warn(
      { operation, err: message, ...(this.unlogged > 0 ? { failures_not_logged: this.unlogged } : {}) },
      'store unavailable; going on without it (a retried notification may be shown twice)',
    );
    this.lastLogAt = now;
    this.unlogged = 0;
  }
}
