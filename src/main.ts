#!/usr/bin/env node
// First: a too-old Node gets one line naming the version needed (see the module).
import './node-version';
import { EXIT_FAILED, EXIT_OK } from './cli/exit';
import { ProcessSignals } from './cli/signals';
import { applyV8Flags } from './cli/v8-flags';

// Before anything else: this may replace the process with one running Herald's V8 settings.
applyV8Flags();

// Signals first: loading the CLI's modules takes a second or more, and a signal in that
// time must not kill the process (a supervisor's stop, a reload from logrotate).
let flush = async (): Promise<void> => {};
const exit = (code: number): void => {
  void flush().then(() => process.exit(code));
};
const signals = new ProcessSignals(() => exit(EXIT_OK));

// A command that lets the process run out of work before it finished is a bug; it must
// not look like a success.
let finished = false;
process.on('beforeExit', () => {
  if (finished) return;
  finished = true;
  process.stderr.write('herald: the command stopped before it finished (a bug in Herald)\n');
  exit(EXIT_FAILED);
});

void (async () => {
  try {
    // Loaded now, after the handlers are in (a static import would be hoisted above them).
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { buildCli } = require('./cli/index') as typeof import('./cli/index');
    flush = (require('./util/log') as typeof import('./util/log')).flushLogs;
    /* eslint-enable @typescript-eslint/no-require-imports */
    // Node runs signal handlers only between turns of its event loop, and loading was one
    // long synchronous stretch: give a signal received meanwhile its turn now, before the
    // command starts (a SIGTERM ends the process here, before anything is served).
    await new Promise((resolve) => setImmediate(resolve));
    await buildCli(signals).parseAsync(process.argv);
    finished = true;
    exit(process.exitCode === undefined ? EXIT_OK : Number(process.exitCode));
  } catch (err) {
    finished = true;
    process.stderr.write(`herald: ${err instanceof Error ? (err.stack || err.message) : String(err)}\n`);
    exit(EXIT_FAILED);
  }
})();
