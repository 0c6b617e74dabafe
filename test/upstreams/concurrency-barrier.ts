/**
 * For mocks proving that a gateway sends concurrently: once `holdUntil(size)` is called,
 * every arrival waits until `size` are waiting at once, then all go on. A gateway that
 * sends one at a time never fills it, so the hold ends after 10 s and the test fails on
 * its counts rather than on a hang.
 */
export class ConcurrencyBarrier {
  private current?: { size: number; waiting: Array<() => void> };
  /** Arrivals in wait() now, and the most ever there at once. */
  private inFlight = 0;
  maxInFlight = 0;

  holdUntil(size: number): void {
    const barrier = { size, waiting: [] as Array<() => void> };
    this.current = barrier;
    setTimeout(() => {
      if (this.current === barrier) this.current = undefined;
      for (const release of barrier.waiting.splice(0)) release();
    }, 10_000).unref();
  }

  /** Counts the arrival in maxInFlight; resolves at once unless a hold is on. */
  async wait(): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await this.hold();
    } finally {
      this.inFlight--;
    }
  }

  private hold(): Promise<void> {
    const barrier = this.current;
    if (!barrier) return Promise.resolve();
    return new Promise((resolve) => {
      barrier.waiting.push(resolve);
      if (barrier.waiting.length >= barrier.size) {
        this.current = undefined;
        for (const release of barrier.waiting.splice(0)) release();
      }
    });
  }
}
