import type { Logger } from '../util/log';

/**
 * A warning written at most once per `intervalMs`: the first problem at once, later ones
 * counted and summed up in the next line written. For a trace collector that is down,
 * which would otherwise write a line per failed export.
 */
export class ThrottledWarning {
  private lastAt: number | undefined;
  private suppressed = 0;

  constructor(
    private readonly log: Logger,
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  warn(message: string): void {
    const now = this.now();
    if (this.lastAt !== undefined && now - this.lastAt < this.intervalMs) {
      this.suppressed++;
      return;
    }
    const suppressed = this.suppressed;
    this.lastAt = now;
    this.suppressed = 0;
    this.log.warn(suppressed > 0 ? { suppressed, interval_s: this.intervalMs / 1000 } : {}, message);
  }
}
