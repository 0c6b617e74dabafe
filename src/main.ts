#!/usr/bin/env node
import { buildCli } from './cli/index';
import { flushLogs } from './util/log';

buildCli()
  .parseAsync(process.argv)
  .then(
    async () => {
      await flushLogs();
      process.exit(process.exitCode ?? 0);
    },
    async (err: unknown) => {
      await flushLogs();
      process.stderr.write(`herald: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
