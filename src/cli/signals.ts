/**
 * SIGTERM, SIGINT and SIGHUP, handled from the process' first moment: `main` builds this
 * before loading the modules that take a second or more, during which Node's default
 * action (death) would otherwise apply. Until a command takes a signal over, SIGTERM and
 * SIGINT end the process through `exitEarly` (nothing is served yet, so nothing is lost),
 * and SIGHUP is remembered and delivered once the gateway is ready: the operator's edit
 * may have landed after the file was read.
 *
 * This module imports nothing, so that building it costs nothing.
 */
export class ProcessSignals {
  private stopHandler: ((signal: NodeJS.Signals) => void) | undefined;
  private reloadHandler: (() => void) | undefined;
  private reloadPending = false;

  constructor(private readonly exitEarly: (signal: NodeJS.Signals) => void) {
    const stop = (signal: NodeJS.Signals) => (this.stopHandler ?? this.exitEarly)(signal);
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('SIGHUP', () => {
      if (this.reloadHandler) this.reloadHandler();
      else this.reloadPending = true;
    });
  }

  /** From now on SIGTERM and SIGINT call `handler` (e.g. to finish requests in flight). */
  onStop(handler: (signal: NodeJS.Signals) => void): void {
    this.stopHandler = handler;
  }

  /** From now on SIGHUP calls `handler`; a SIGHUP received before calls it once, now. */
  onReload(handler: () => void): void {
    this.reloadHandler = handler;
    if (this.reloadPending) {
      this.reloadPending = false;
      handler();
    }
  }
}
