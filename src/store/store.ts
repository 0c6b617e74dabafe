import { hash } from 'node:crypto';

/** What a claim on a delivery found: see PushStore.claimDelivery. */
export type DeliveryClaim =
  /** The caller holds the claim: it sends, then calls rememberDelivered or releaseDelivery. */
  | 'claimed'
  /** The delivery already happened (a homeserver retry): nothing to send. */
  | 'delivered'
  /** Another process holds the claim and is sending now. */
  | 'in-flight'
  /** The pushkey was found dead by an earlier request (as isRejected): nothing to send, nothing claimed. */
  | 'rejected';

/** Whether the store answers; a degraded store is skipped (see RedisStore), Herald keeps delivering. */
export type StoreHealth = { readonly state: 'ok' } | { readonly state: 'degraded'; readonly reason: string };

/**
 * What Herald remembers between requests. Asynchronous so that a shared backend
 * (Redis) can stand in for the in-memory one when several processes serve one homeserver:
 * every process then sees the same dead pushkeys and the same deliveries.
 */
export interface PushStore {
  /**
   * Connects, if the store has anything to connect to. Resolves once it answers, or after a
   * bounded wait without it (the store is then degraded and Herald serves regardless).
   */
  open(): Promise<void>;
  /** True when an earlier request found this pushkey dead (and the memory has not expired). */
  isRejected(appId: string, pushkey: string): Promise<boolean>;
  /** Remembers a dead pushkey so it is rejected again on the next call that carries it. */
  rememberRejected(appId: string, pushkey: string): Promise<void>;
  /**
   * Checks for a remembered rejection of the device and, if there is none, claims the
   * delivery (see deliveryKey) atomically, so that of two processes handling the same
   * event for the same device at once exactly one sends: one step, so that a shared store
   * answers it in one round trip. The claim lapses after `holdMs` if its holder never
   * settles it (a process that died mid-send).
   */
  claimDelivery(key: DeliveryKey, holdMs: number): Promise<DeliveryClaim>;
  /** Settles a claim held by this process: delivered, remembered for the de-duplication window. */
  rememberDelivered(key: DeliveryKey): Promise<void>;
  /** Settles a claim held by this process without a delivery, so a retry may send. */
  releaseDelivery(key: DeliveryKey): Promise<void>;
  health(): StoreHealth;
  close(): Promise<void>;
}

/**
 * 96 bits of the SHA-256 of `text`, in base64: 16 characters instead of a pushkey's few
 * hundred (Web Push endpoints), so a store holds many more keys in the same memory (and
 * Redis, which is paid per byte of key). A collision (chance about n²/2⁹⁷ among n
 * remembered keys) would skip one notification or reject one pushkey.
 */
function key96(text: string): string {
  return hash('sha256', text, 'base64').slice(0, 16);
}

/** Names the delivery of one event to one device. */
export interface DeliveryKey {
  /** The device: rejectionKey(app, pushkey), under which its rejection is remembered. */
  readonly device: string;
  /** The delivery: a hash of (event_id, app, pushkey), NUL-separated. */
  readonly delivery: string;
}

export function deliveryKey(eventId: string, app: string, pushkey: string): DeliveryKey {
  return { device: rejectionKey(app, pushkey), delivery: key96(`${eventId}\u0000${app}\u0000${pushkey}`) };
}

/** Names a dead pushkey of one app: (app, pushkey), NUL-separated. */
export function rejectionKey(app: string, pushkey: string): string {
  return key96(`${app}\u0000${pushkey}`);
}
