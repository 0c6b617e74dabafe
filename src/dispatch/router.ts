/**
 * Routes an app_id to the configured app that serves it, as Sygnal does
 * (push-gateway-facts §3): an exact `apps` key wins; otherwise every glob key that
 * matches (`*` any run of characters, `?` one character, anchored, case-sensitive) is
 * collected, and exactly one must match.
 */
export type Route<T> =
  | { readonly kind: 'found'; readonly target: T }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'ambiguous'; readonly matches: readonly string[] };

/**
 * What to answer for a device whose app_id matches no app (or several globs): `reject`
 * (Sygnal: the homeserver deletes the pusher) or `retry` (502: the pusher is kept, so a
 * config mistake does not delete every user's pusher). Config key `unknown_app_id`.
 */
export const UNKNOWN_APP_ID_POLICIES = ['reject', 'retry'] as const;
export type UnknownAppIdPolicy = (typeof UNKNOWN_APP_ID_POLICIES)[number];

/** App ids remembered per router; more distinct ids than this (junk traffic) start a fresh cache. */
const ROUTE_CACHE_LIMIT = 4096;

export function isGlob(key: string): boolean {
  return key.includes('*') || key.includes('?');
}

export function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('')
    .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`, 's');
}

export class AppRouter<T> {
  private readonly exact = new Map<string, T>();
  private readonly globs: Array<{ key: string; pattern: RegExp; target: T }> = [];
  private readonly cache = new Map<string, Route<T>>();

  constructor(apps: Iterable<readonly [string, T]>) {
    for (const [key, target] of apps) {
      this.exact.set(key, target);
      if (isGlob(key)) this.globs.push({ key, pattern: globToRegExp(key), target });
    }
  }

  route(appId: string): Route<T> {
    const cached = this.cache.get(appId);
    if (cached) return cached;
    const route = this.resolve(appId);
    if (this.cache.size >= ROUTE_CACHE_LIMIT) this.cache.clear();
    this.cache.set(appId, route);
    return route;
  }

  private resolve(appId: string): Route<T> {
    const exact = this.exact.get(appId);
    if (exact !== undefined) return { kind: 'found', target: exact };
    const matches = this.globs.filter((glob) => glob.pattern.test(appId));
    if (matches.length === 1) return { kind: 'found', target: matches[0].target };
    if (matches.length === 0) return { kind: 'unknown' };
    return { kind: 'ambiguous', matches: matches.map((m) => m.key) };
  }
}
