import { setTimeout as delay } from 'node:timers/promises';

/** Time as pushkins see it, injected so tests can run backoff without waiting. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`; rejects with an AbortError if `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  // A referenced timer: a retry's backoff is work in progress. Unreferenced, a process
  // with nothing else to do (`herald send-test` against an unreachable platform) ran
  // out of work mid-retry and exited 0 without a result. Shutdown aborts `signal`.
  sleep: async (ms, signal) => {
    await delay(ms, undefined, { signal });
  },
};
