import { randomBytes } from 'node:crypto';
import type { Counter } from 'prom-client';
import { createClient, createCluster, createSentinel, defineScript, type CommandParser } from 'redis';
import type { Clock } from '../util/clock';
import type { Logger } from '../util/log';
import { rejectionKey, type DeliveryClaim, type DeliveryKey, type PushStore, type StoreHealth } from './store';

/** A Redis server's address, as Sentinel and Cluster name their nodes. */
export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

/** Where the store's Redis is: one server (`url`), a Sentinel-monitored primary, or a Cluster. */
export type RedisTopology =
  | {
      /** redis:// or rediss:// (TLS), with the password in it if any. */
      readonly url: string;
    }
  | {
      readonly sentinel: {
        /** The primary's name, as the sentinels monitor it. */
        readonly name: string;
        /** Some of the sentinels; the others are discovered from them. */
        readonly nodes: readonly RedisNode[];
        /** The primary's and the replicas' password. */
        readonly password?: string;
        /** The sentinels' own password. */
        readonly sentinelPassword?: string;
        readonly tls: boolean;
      };
    }
  | {
      readonly cluster: {
        /** Some of the Cluster's nodes; the others are discovered from them. */
        readonly nodes: readonly RedisNode[];
        readonly password?: string;
        readonly tls: boolean;
      };
    };

export type RedisStoreOptions = RedisTopology & {
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
};

/** The store's operations, as named in logs and in herald_store_errors_total. */
const OPERATIONS = ['is_rejected', 'remember_rejected', 'claim_delivery', 'remember_delivered', 'release_delivery', 'connection'] as const;
type Operation = (typeof OPERATIONS)[number];

/** A delivered marker's value; a claim's is CLAIM_PREFIX plus the claiming process's id. */
const DELIVERED = 'd';
const CLAIM_PREFIX = 'c:';

/** What CLAIM answers, by the letter it returns. */
const CLAIM_ANSWERS: Readonly<Record<string, DeliveryClaim>> = { r: 'rejected', c: 'claimed', d: 'delivered', f: 'in-flight' };

/**
 * The remembered rejection check and the delivery claim in one round trip. KEYS: the
 * device's rejection marker, the delivery's key (one hash slot: see deviceKeys). ARGV:
 * this process's claim value, the claim's hold time in ms, the delivered marker's value.
 */
const CLAIM = defineScript({
  NUMBER_OF_KEYS: 2,
  SCRIPT: `if redis.call('EXISTS', KEYS[1]) == 1 then return 'r' end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 'c' end
if redis.call('GET', KEYS[2]) == ARGV[3] then return 'd' end
return 'f'`,
  parseCommand(parser: CommandParser, rejected: string, delivery: string, claimValue: string, holdMs: number) {
    parser.pushKeys([rejected, delivery]);
    parser.push(claimValue, String(holdMs), DELIVERED);
  },
  transformReply: (reply: unknown) => String(reply),
});

/** Deletes a claim only if this process still holds it (it may have lapsed and been taken since). */
const RELEASE = defineScript({
  NUMBER_OF_KEYS: 1,
  SCRIPT: "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
  parseCommand(parser: CommandParser, delivery: string, claimValue: string) {
    parser.pushKey(delivery);
    parser.push(claimValue);
  },
  transformReply: (reply: unknown) => Number(reply),
});

const SCRIPTS = { claim: CLAIM, release: RELEASE };

/**
 * The keys of one device (after the prefix). Its rejection and all its deliveries share
 * the hash tag `{<rejectionKey>}`, so they land in one Cluster hash slot and CLAIM may
 * touch both: `{<device>}r` = "1" for a dead pushkey; `{<device>}d:<delivery>` = a claim,
 * then the delivered marker.
 */
function deviceKeys(device: string): { rejected: string; deliveryPrefix: string } {
  return { rejected: `{${device}}r`, deliveryPrefix: `{${device}}d:` };
}

/** What RedisStore uses of node-redis's client, Sentinel client and Cluster client alike. */
interface StoreClient {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  destroy(): unknown;
  on(event: string, listener: (arg: unknown) => void): unknown;
  off(event: string, listener: (arg: unknown) => void): unknown;
  claim(rejected: string, delivery: string, claimValue: string, holdMs: number): Promise<string>;
  release(delivery: string, claimValue: string): Promise<number>;
  exists(key: string): Promise<number>;
  set(key: string, value: string, options: { expiration: { type: 'EX'; value: number } }): Promise<unknown>;
}

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

function reconnectDelay(retries: number): number {
  return Math.min(100 * 2 ** retries, RECONNECT_MAX_DELAY_MS);
}

/** The client for the topology, and the event it emits once it can take commands. */
function makeClient(options: RedisStoreOptions): { client: StoreClient; readyEvent: string } {
  const node = {
    // Fail at once while disconnected rather than queue behind a reconnection.
    disableOfflineQueue: true,
    commandsQueueMaxLength: MAX_QUEUED_COMMANDS,
  } as const;
  const socket = { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy: reconnectDelay };
  const common = { keyPrefix: options.keyPrefix, scripts: SCRIPTS };
  if ('sentinel' in options) {
    const { name, nodes, password, sentinelPassword, tls } = options.sentinel;
    const sentinel = createSentinel({
      ...common,
      name,
      sentinelRootNodes: nodes.map(({ host, port }) => ({ host, port })),
      nodeClientOptions: { ...node, ...(password !== undefined ? { password } : {}), socket: { ...socket, tls } },
      sentinelClientOptions: { ...(sentinelPassword !== undefined ? { password: sentinelPassword } : {}), socket: { connectTimeout: CONNECT_TIMEOUT_MS, tls } },
      // Node clients' errors (the primary's connection lost) surface as the store's.
      passthroughClientErrorEvents: true,
    });
    return { client: sentinel, readyEvent: 'ready' };
  }
  if ('cluster' in options) {
    const { nodes, password, tls } = options.cluster;
    const cluster = createCluster({
      ...common,
      rootNodes: nodes.map(({ host, port }) => ({ socket: { host, port, tls, connectTimeout: CONNECT_TIMEOUT_MS } })),
      defaults: { ...node, ...(password !== undefined ? { password } : {}), socket: { ...socket, tls } },
    });
    return { client: cluster, readyEvent: 'connect' };
  }
  return { client: createClient({ ...common, ...node, url: options.url, socket }), readyEvent: 'ready' };
}

/**
 * The store shared through Redis by every worker and every instance: one server, a
 * Sentinel-monitored primary (the client follows a promoted replica by itself), or a
 * Cluster. Keys: see deviceKeys. Before a send, one round trip (CLAIM, by EVALSHA, EVAL
 * when the server has not got the script yet); after it, one more, which the answer does
 * not wait for.
 *
 * Redis is an aid, never a gate: a call that fails or takes longer than `timeoutMs`
 * answers as if nothing were remembered (not rejected, free to send) so notifications
 * still go out — a possible duplicate is the lesser evil — and is logged at a bounded
 * rate and counted. The client reconnects by itself; until it has, calls fail at once,
 * as they do for a second after a timeout.
 */
export class RedisStore implements PushStore {
  private readonly client: StoreClient;
  private readonly readyEvent: string;
  private readonly claimValue = CLAIM_PREFIX + randomBytes(6).toString('base64');
  /** The last failure's message while it is more recent than the last success. */
  private failure: string | undefined;
  private lastLogAt = -Infinity;
  /** After a timeout, calls skip Redis until then (on `clock`). */
  private skipUntil = 0;
  private readonly clock: Pick<Clock, 'now'>;
  private unlogged = 0;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** Settlements not answered yet: close() lets them finish (each is bounded by the timeout). */
  private readonly settling = new Set<Promise<unknown>>();

  constructor(private readonly options: RedisStoreOptions) {
    this.clock = options.clock ?? performance;
    for (const operation of OPERATIONS) options.errors.labels(operation).inc(0);
    ({ client: this.client, readyEvent: this.readyEvent } = makeClient(options));
    this.client.on('error', (err: unknown) => {
      if (!this.closed) this.failed('connection', err);
    });
    this.client.on(this.readyEvent, () => {
      if (this.failure !== undefined) options.log.info('store reachable again');
      this.failure = undefined;
    });
  }

  async open(): Promise<void> {
    if (this.client.isOpen) return;
    const ready = new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.client.off(this.readyEvent, done);
        resolve();
      };
      const timer = setTimeout(done, OPEN_WAIT_MS).unref();
      this.client.on(this.readyEvent, done);
    });
    // Not awaited: the client keeps reconnecting in the background, and Herald serves
    // (degraded) while Redis is unreachable.
    this.connect(0);
    await ready;
    if (!this.client.isReady && !this.closed) {
      this.options.log.warn({ wait_ms: OPEN_WAIT_MS }, 'Redis not reachable at start-up; serving without it until it is');
    }
  }

  /**
   * Connects. A single server's client retries by itself; the Sentinel and Cluster clients
   * give up when no node answers at first, so they are asked again after a while.
   */
  private connect(attempt: number): void {
    this.client.connect().catch((err: unknown) => {
      if (this.closed) return;
      this.failed('connection', err);
      if (!this.client.isOpen) this.reconnectTimer = setTimeout(() => this.connect(attempt + 1), reconnectDelay(attempt)).unref();
    });
  }

  async isRejected(appId: string, pushkey: string): Promise<boolean> {
    const { rejected } = deviceKeys(rejectionKey(appId, pushkey));
    return (await this.call('is_rejected', 0, () => this.client.exists(rejected))) > 0;
  }

  async rememberRejected(appId: string, pushkey: string): Promise<void> {
    const { rejected } = deviceKeys(rejectionKey(appId, pushkey));
    await this.call('remember_rejected', null, () => this.client.set(rejected, '1', { expiration: { type: 'EX', value: this.options.rejectedTtlSeconds } }));
  }

  claimDelivery({ device, delivery }: DeliveryKey, holdMs: number): Promise<DeliveryClaim> {
    const { rejected, deliveryPrefix } = deviceKeys(device);
    // Unreachable: send (the claim cannot be shared, so a duplicate is possible).
    return this.call('claim_delivery', 'claimed', async (): Promise<DeliveryClaim> => {
      const answer = await this.client.claim(rejected, deliveryPrefix + delivery, this.claimValue, holdMs);
      const claim = CLAIM_ANSWERS[answer];
      if (claim === undefined) throw new Error(`unexpected answer from the claim script: ${JSON.stringify(answer)}`);
      return claim;
    });
  }

  rememberDelivered({ device, delivery }: DeliveryKey): Promise<void> {
    const key = deviceKeys(device).deliveryPrefix + delivery;
    return this.settle(
      this.call('remember_delivered', null, () => this.client.set(key, DELIVERED, { expiration: { type: 'EX', value: this.options.dedupTtlSeconds } })),
    );
  }

  releaseDelivery({ device, delivery }: DeliveryKey): Promise<void> {
    const key = deviceKeys(device).deliveryPrefix + delivery;
    return this.settle(this.call('release_delivery', null, () => this.client.release(key, this.claimValue)));
  }

  health(): StoreHealth {
    if (!this.client.isReady) return { state: 'degraded', reason: `redis unreachable${this.failure ? `: ${this.failure}` : ''}` };
    if (this.failure !== undefined) return { state: 'degraded', reason: `redis: ${this.failure}` };
    return { state: 'ok' };
  }

  async close(): Promise<void> {
    // Every request has been answered by now; the settlements of their deliveries may
    // still be on their way, and are worth having (a retry is de-duplicated by them).
    await Promise.all(this.settling);
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    if (this.client.isOpen) await this.client.destroy();
  }

  private async settle(settlement: Promise<unknown>): Promise<void> {
    this.settling.add(settlement);
    try {
      await settlement;
    } finally {
      this.settling.delete(settlement);
    }
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
