/**
 * What Herald remembers between requests. Asynchronous so that a shared backend
 * (Redis) can stand in for the in-memory one when several gateways serve one homeserver.
 */
export interface PushStore {
  /** True when an earlier request found this pushkey dead (and the memory has not expired). */
  isRejected(appId: string, pushkey: string): Promise<boolean>;
  /** Remembers a dead pushkey so it is rejected again on the next call that carries it. */
  rememberRejected(appId: string, pushkey: string): Promise<void>;
  /** True when this event was already delivered to this device (a homeserver retry). */
  wasDelivered(eventId: string, appId: string, pushkey: string): Promise<boolean>;
  rememberDelivered(eventId: string, appId: string, pushkey: string): Promise<void>;
  close(): Promise<void>;
}
