/** What a load generator is asked to do, and what it reports. Shared by autocannon (load.ts) and wrk (wrk.ts). */

export interface LoadSpec {
  readonly port: number;
  readonly path: string;
  /** The body split at its event-id placeholders; each request joins them with a fresh id. */
  readonly parts: readonly string[];
  readonly connections: number;
  readonly durationS: number;
  /** Makes event ids unique across phases and runs. */
  readonly nonce: string;
  /** wrk only: threads (each with its own connections). */
  readonly threads: number;
}

export interface LoadResult {
  readonly loader: 'wrk' | 'autocannon';
  /** Measured duration, seconds. */
  readonly durationS: number;
  /** Completed requests (any status). */
  readonly requests: number;
  readonly rps: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number; readonly mean: number };
  /** Answers with a status outside 2xx (wrk: ≥ 400). */
  readonly non2xx: number;
  /** Connection errors, read/write errors and timeouts. */
  readonly errors: number;
  readonly timeouts: number;
}

/** `$bench-<nonce>-<n>:example.org` — unique per request within a phase. */
export function eventId(nonce: string, n: number): string {
  return `$bench-${nonce}-${n}:example.org`;
}
