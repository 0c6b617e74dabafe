import { isMainThread } from 'node:worker_threads';

/**
 * V8 settings the `herald` command runs with. V8 sizes its heap when the process starts,
 * so they cannot be set from inside a running process: on runtimes with `process.execve`
 * (Node 22.15+, 23.11+) Herald replaces its own process image once, same pid, with these
 * flags in front of the ones it was started with. Without `process.execve` (Node 20) it
 * runs with V8's defaults. docs/operator-guide.md, "Memory", says what they cost.
 */
export const HERALD_V8_FLAGS: readonly string[] = [
  // Every request's short-lived objects go to the young generation, whose two semi-spaces
  // V8 lets grow to 16 MiB or more each (more on newer runtimes), resident once touched.
  // 4 MiB holds the objects of the requests in flight at once, so few survive to the old
  // generation, and keeps an idle Herald about 20 MB smaller.
  '--max-semi-space-size=4',
  // After a full collection V8 lets the old generation grow by a factor it picks (up to
  // four times the live heap) before the next one; under steady load that headroom is
  // what RSS shows. Twice the live heap: 1.3× cost a fan-out a third more CPU in GC.
  '--heap-growing-percent=100',
];
/** `--name` of a `--name=value` flag, with V8's `_` and `-` spellings taken as the same. */
function flagName(flag: string): string {
  return (flag.split('=')[0] as string).replace(/_/g, '-');
}

/**
 * The flags of `defaults` to add: those neither the operator's NODE_OPTIONS nor the
 * process's own command line (node's flags before the script) already set.
 */
export function flagsToAdd(defaults: readonly string[], nodeOptions: string | undefined, execArgv: readonly string[]): string[] {
  const set = new Set([...(nodeOptions ?? '').split(/\s+/), ...execArgv].filter((f) => f.startsWith('--')).map(flagName));
  return defaults.filter((flag) => !set.has(flagName(flag)));
}

/**
 * The `herald` commands that answer and exit (buildCli's subcommands, help and version):
 * they never carry load, so they are not worth a second process start. Listed here, not
 * read from buildCli, because loading the CLI is what the re-exec must come before.
 */
export const ONE_SHOT_ARGS: ReadonlySet<string> = new Set(['check-config', 'send-test', 'hash-pushkey', 'vapid-keys', 'help', '--help', '-h', '--version', '-V']);

/** Whether `args` (the command line after the script) start the gateway rather than a one-shot command. */
export function startsGateway(args: readonly string[]): boolean {
  return !args.some((arg) => ONE_SHOT_ARGS.has(arg));
}

/** Re-executes this process with HERALD_V8_FLAGS when it can and they are not in effect yet; returns otherwise. */
export function applyV8Flags(): void {
  const execve = (process as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve;
  if (typeof execve !== 'function' || !isMainThread || !startsGateway(process.argv.slice(2))) return;
  const add = flagsToAdd(HERALD_V8_FLAGS, process.env.NODE_OPTIONS, process.execArgv);
  if (add.length === 0) return;
  // After the re-exec the flags are in process.execArgv, so this returns there.
  execve.call(process, process.execPath, [process.execPath, ...add, ...process.execArgv, ...process.argv.slice(1)], process.env);
}
