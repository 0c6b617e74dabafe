/**
 * Routes an app_id to the configured app that serves it, as Sygnal does
 * (`Pushkin.handles_appid` in Sygnal's `sygnal/notifications.py`): an exact `apps` key
 * wins; otherwise every glob key that matches (`*` any run of characters, `?` one
 * character, anchored, case-sensitive) is collected, and exactly one must match.
 */
export type Route<T> =
  | { readonly kind: 'found'; readonly target: T }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'ambiguous'; readonly matches: readonly string[] };

/**
 * What to answer for a device whose app_id matches no app: `reject` (Sygnal: the
 * homeserver deletes the pusher) or `retry` (502: the pusher is kept, so a config
 * mistake does not delete every user's pusher). Config key `unknown_app_id`. An app_id
 * that several globs match is always answered as `retry`: the configuration is at fault,
 * not the pusher (and the configuration refuses globs that overlap, see globsOverlap).
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

/**
 * An app_id that both globs match, or undefined when none exists. Decided exactly, over
 * the product of the two patterns: a state is a position in each, a step either lets a
 * `*` match nothing more or consumes one character both patterns accept there (any
 * character can stand for `?` or `*`, so only two differing literals never meet). The
 * patterns have no common app_id when the end of both cannot be reached.
 */
export function globsOverlap(a: string, b: string): string | undefined {
  const width = b.length + 1;
  // How each reachable state was first reached: the previous state and the character consumed ('' for none).
  const from = new Map<number, { readonly previous: number; readonly ch: string }>([[0, { previous: -1, ch: '' }]]);
  const queue = [0];
  const visit = (i: number, j: number, previous: number, ch: string): void => {
    const state = i * width + j;
    if (from.has(state)) return;
    from.set(state, { previous, ch });
    queue.push(state);
  };
  for (let head = 0; head < queue.length; head++) {
    const state = queue[head];
    const i = Math.floor(state / width);
    const j = state % width;
    const p = a[i];
    const q = b[j];
    if (p === '*') visit(i + 1, j, state, '');
    if (q === '*') visit(i, j + 1, state, '');
    if (p === undefined || q === undefined || (p === '*' && q === '*')) continue;
    const literal = p !== '*' && p !== '?' ? p : q !== '*' && q !== '?' ? q : 'x';
    if (p !== '*' && p !== '?' && q !== '*' && q !== '?' && p !== q) continue;
    // A `*` consuming a character stays where it is; any other symbol moves on.
    visit(p === '*' ? i : i + 1, q === '*' ? j : j + 1, state, literal);
  }
  const end = a.length * width + b.length;
  if (!from.has(end)) return undefined;
  let witness = '';
  for (let state = end; state > 0; ) {
    const step = from.get(state);
    if (step === undefined) break;
    witness = step.ch + witness;
    state = step.previous;
  }
  // Only patterns of nothing but `*` share the empty string, and they share every app_id.
  return witness || 'x';
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
