import type { Gauge, Histogram } from 'prom-client';
import type { SlotWait } from '../util/slot-queue';

/** A client whose sends each take one of a fixed number of slots (its connections' streams). */
export interface SlottedClient {
  /** Waits for a free slot until `signal` aborts or the client closes; only `granted` must be released. */
  acquire(signal: AbortSignal): Promise<SlotWait>;
  release(): void;
}

/** Sygnal's series for one platform's sends: waiting for a slot, the wait, in flight, and the send's time. */
export interface SlotMetrics {
  readonly pending: Gauge;
  readonly queueTime: Histogram;
  readonly active: Gauge;
  readonly requestTime: Histogram;
}

/** What `sendInSlot` answers when no slot came before the signal aborted or the client closed. */
export const NO_SLOT = Symbol('no slot');

/**
 * Runs `send` in one of the client's slots, measured as Sygnal measures FCM and Web Push
 * sends. An error from `send` propagates once the slot is released.
 */
export async function sendInSlot<T>(
  client: SlottedClient,
  signal: AbortSignal,
  metrics: SlotMetrics,
  send: () => Promise<T>,
): Promise<T | typeof NO_SLOT> {
  metrics.pending.inc();
  const slot = await client.acquire(signal);
  metrics.pending.dec();
  if (slot.outcome !== 'granted') return NO_SLOT;
  metrics.queueTime.observe(slot.waitedMs / 1000);
  metrics.active.inc();
  const stopTimer = metrics.requestTime.startTimer();
  try {
    return await send();
  } finally {
    stopTimer();
    metrics.active.dec();
    client.release();
  }
}
