import { getVapidHeaders } from 'web-push';
import type { Clock } from '../../util/clock';
import type { VapidKeys } from './vapid';

/** How long one signed VAPID JWT is valid; push services accept up to 24 h. */
export const VAPID_JWT_LIFETIME_S = 12 * 60 * 60;
/** A JWT is signed again once it is this old, well before it expires. */
const VAPID_JWT_REUSE_MS = 60 * 60 * 1000;
/** Push service origins remembered; more (odd endpoints) start a fresh cache. */
const VAPID_CACHE_LIMIT = 256;

/**
 * The `Authorization: vapid t=…, k=…` header for each push service origin (the JWT's
 * `aud`). One ES256 signature per origin per hour instead of one per message: push
 * services are few, and signing is the costly half of each send after encryption.
 */
export class VapidSigner {
  private readonly cache = new Map<string, { header: string; signedAt: number }>();

  constructor(
    private readonly keys: VapidKeys,
    /** `mailto:<contact>`: who the push service contacts about our traffic. */
    private readonly subject: string,
    private readonly clock: Clock,
  ) {}

  authorization(origin: string): string {
    const now = this.clock.now();
    const cached = this.cache.get(origin);
    if (cached && now - cached.signedAt < VAPID_JWT_REUSE_MS) return cached.header;
    const expiration = Math.floor(now / 1000) + VAPID_JWT_LIFETIME_S;
    const { Authorization } = getVapidHeaders(origin, this.subject, this.keys.publicKey, this.keys.privateKey, 'aes128gcm', expiration);
    if (this.cache.size >= VAPID_CACHE_LIMIT) this.cache.clear();
    this.cache.set(origin, { header: Authorization, signedAt: now });
    return Authorization;
  }
}
