import { setTimeout as delay } from 'node:timers/promises';

/** Time as pushkins see it, injected so tests can run backoff without waiting. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`; rejects with an AbortError if `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    await delay(ms, undefined, { signal, ref: false });
  },
};
