import { hash } from 'node:crypto';

/**
 * What Herald remembers between requests. Asynchronous so that a shared backend
 * (Redis) can stand in for the in-memory one when several gateways serve one homeserver.
 */
export interface PushStore {
  /** True when an earlier request found this pushkey dead (and the memory has not expired). */
  isRejected(appId: string, pushkey: string): Promise<boolean>;
  /** Remembers a dead pushkey so it is rejected again on the next call that carries it. */
  rememberRejected(appId: string, pushkey: string): Promise<void>;
  /** True when the delivery (see deliveryKey) already happened: a homeserver retry. */
  wasDelivered(key: string): Promise<boolean>;
  rememberDelivered(key: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Names the delivery of one event to one device by 96 bits of the SHA-256 of
 * (event_id, app, pushkey), NUL-separated: 16 characters instead of a few hundred, so a
 * store holds many more of them in the same memory. A collision (chance about n²/2⁹⁷
 * among n remembered deliveries) would skip one notification.
 */
export function deliveryKey(eventId: string, app: string, pushkey: string): string {
  return hash('sha256', `${eventId}\u0000${app}\u0000${pushkey}`, 'base64').slice(0, 16);
}
