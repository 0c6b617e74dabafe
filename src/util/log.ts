import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Field names whose values are secrets or pushkeys. Code logs redacted forms under
 * other names (`pushkey_hash`); this list is the safety net if an object slips through.
 */
const REDACT_PATHS = [
  'pushkey',
  '*.pushkey',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'access_token',
  '*.access_token',
  'private_key',
  '*.private_key',
  'token',
  '*.token',
];

/**
 * JSON lines for machines; when no destination is given and stdout is a terminal,
 * the same lines pretty-printed for a person.
 */
export function createLogger(level: LogLevel = 'info', destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { name: 'herald' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (destination) return pino(options, destination);
  if (process.stdout.isTTY) {
    // Loaded only for a terminal: a server writing JSON lines never pays for it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a synchronous, on-demand load
    const pretty = require('pino-pretty') as typeof import('pino-pretty');
    return pino(options, pretty.build({ colorize: true, sync: true, translateTime: 'SYS:HH:MM:ss.l' }));
  }
  // Written asynchronously: a log line costs no system call on a request's path.
  // minLength 1 writes each line at once, as 0 would, but makes flush() wait for writes
  // in flight (with 0 it returns at once, and a line written at exit could overtake them).
  const stdout = pino.destination({ dest: 1, sync: false, minLength: 1 });
  asyncDestinations.add(stdout);
  return pino(options, stdout);
}

const asyncDestinations = new Set<ReturnType<typeof pino.destination>>();

/** Writes out what the asynchronous log destinations still hold; call before exiting. */
export async function flushLogs(): Promise<void> {
  await Promise.all(
    [...asyncDestinations].map(
      (destination) => new Promise<void>((resolve) => destination.flush(() => resolve())),
    ),
  );
}
