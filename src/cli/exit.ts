import type { Writable } from 'node:stream';
import { EnvironmentError, type ConfigError } from '../config/section';

/**
 * Exit statuses of every command (docs/operator-guide.md). A configuration error is
 * sysexits' EX_CONFIG from every command, so a supervisor can tell it apart from a crash
 * and not restart into it (systemd: `RestartPreventExitStatus=78`).
 */
export const EXIT_OK = 0;
/** Nothing delivered (send-test), or an unexpected failure. */
export const EXIT_FAILED = 1;
export const EXIT_CONFIG = 78;

/**
 * Prints a configuration error on `stderr`: one line per problem, then the file's
 * warnings, which often explain the errors (an `unknown key` warning for a misspelt key
 * next to the `required` error for the right one). Returns EXIT_CONFIG.
 */
export function reportConfigError(file: string, err: ConfigError, stderr: Writable): number {
  stderr.write(err instanceof EnvironmentError ? `herald: invalid environment (not in ${file})\n` : `herald: ${file}: invalid configuration\n`);
  for (const problem of err.problems) stderr.write(`  error: ${problem}\n`);
  for (const warning of err.warnings) stderr.write(`  warning: ${warning}\n`);
  return EXIT_CONFIG;
}
