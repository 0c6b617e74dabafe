#!/usr/bin/env node
import { buildCli } from './cli/index';

buildCli()
  .parseAsync(process.argv)
  .then(
    () => process.exit(process.exitCode ?? 0),
    (err: unknown) => {
      process.stderr.write(`herald: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
