import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';

/** Problems found while reading a configuration file: errors stop start-up, warnings do not. */
export class ConfigProblems {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];

  error(path: string, message: string): void {
    this.errors.push(`${path}: ${message}`);
  }

  warn(path: string, message: string): void {
    this.warnings.push(`${path}: ${message}`);
  }
}

/**
 * Thrown when a configuration has errors; `problems` holds one line per problem, and
 * `warnings` the file's warnings, which often explain them (`keyid: unknown key` next to
 * `key_id: required`).
 */
export class ConfigError extends Error {
  readonly code = 'HERALD_ERR_CONFIG';
  constructor(
    readonly problems: readonly string[],
    readonly warnings: readonly string[] = [],
  ) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * A setting from the environment (not the config file) that Herald cannot use: reported
 * like a configuration error (exit 78), but without blaming the file.
 */
export class EnvironmentError extends ConfigError {
  constructor(problems: readonly string[]) {
    super(problems);
    this.name = 'EnvironmentError';
  }
}

/** Renders a key for a dotted path, quoting keys that themselves contain dots or spaces. */
export function pathKey(parent: string, key: string): string {
  const part = /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
  return parent ? `${parent}.${part}` : part;
}

export type RawObject = Record<string, unknown>;

export function isPlainObject(value: unknown): value is RawObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface Opts<T> {
  default?: T;
  required?: boolean;
}

/**
 * A typed view over one mapping of the YAML file. Every getter records the key as
 * understood, reports type problems with the key's full path, and returns a default
 * (or undefined) instead of throwing, so that one start-up reports every problem at once.
 * Call `finish()` when done to warn about keys nobody asked for.
 */
export class ConfigSection {
  private readonly known = new Set<string>();

  constructor(
    readonly path: string,
    private readonly raw: RawObject,
    readonly problems: ConfigProblems,
    /** Directory that relative file paths are resolved against (the config file's). */
    readonly baseDir: string,
  ) {}

  static root(raw: unknown, problems: ConfigProblems, baseDir: string): ConfigSection {
    if (raw !== undefined && raw !== null && !isPlainObject(raw)) {
      problems.error('(top level)', 'must be a mapping of keys to values');
      return new ConfigSection('', {}, problems, baseDir);
    }
    return new ConfigSection('', (raw as RawObject | null | undefined) ?? {}, problems, baseDir);
  }

  keyPath(key: string): string {
    return pathKey(this.path, key);
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  /** Marks keys as understood without reading them (accepted for compatibility, ignored). */
  accept(...keys: string[]): void {
    for (const key of keys) this.known.add(key);
  }

  /** The raw value, for keys with free-form content (e.g. fcm_options). */
  rawValue(key: string): unknown {
    this.known.add(key);
    return this.raw[key];
  }

  private take(key: string, required: boolean | undefined, expected: string): unknown {
    this.known.add(key);
    const value = this.raw[key];
    if (value === undefined || value === null) {
      if (required) this.problems.error(this.keyPath(key), `required (${expected})`);
      return undefined;
    }
    return value;
  }

  string(key: string, opts: Opts<string> & { required: true }): string;
  string(key: string, opts: Opts<string> & { default: string }): string;
  string(key: string, opts?: Opts<string>): string | undefined;
  string(key: string, opts: Opts<string> = {}): string | undefined {
    const value = this.take(key, opts.required, 'a string');
    if (value === undefined) return opts.default;
    // YAML turns unquoted numbers into numbers (team ids, key ids); accept whole numbers
    // as text, but not what YAML may have changed (1e5, 0.5, numbers past 2^53).
    if (typeof value === 'number') {
      if (Number.isSafeInteger(value)) return String(value);
      this.problems.error(this.keyPath(key), `must be a string, got the number ${String(value)}: quote the value in the YAML file`);
      return opts.default;
    }
    if (typeof value !== 'string') {
      this.problems.error(this.keyPath(key), `must be a string, got ${describe(value)}`);
      return opts.default;
    }
    return value;
  }

  integer(key: string, opts: Opts<number> & { default: number; min?: number; max?: number }): number;
  integer(key: string, opts?: Opts<number> & { min?: number; max?: number }): number | undefined;
  integer(key: string, opts: Opts<number> & { min?: number; max?: number } = {}): number | undefined {
    const value = this.take(key, opts.required, 'an integer');
    if (value === undefined) return opts.default;
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.problems.error(this.keyPath(key), `must be an integer, got ${describe(value)}`);
      return opts.default;
    }
    if (opts.min !== undefined && value < opts.min) {
      this.problems.error(this.keyPath(key), `must be at least ${opts.min}, got ${value}`);
      return opts.default;
    }
    if (opts.max !== undefined && value > opts.max) {
      this.problems.error(this.keyPath(key), `must be at most ${opts.max}, got ${value}`);
      return opts.default;
    }
    return value;
  }

  boolean(key: string, opts: Opts<boolean> & { default: boolean }): boolean;
  boolean(key: string, opts?: Opts<boolean>): boolean | undefined;
  boolean(key: string, opts: Opts<boolean> = {}): boolean | undefined {
    const value = this.take(key, opts.required, 'true or false');
    if (value === undefined) return opts.default;
    if (typeof value !== 'boolean') {
      this.problems.error(this.keyPath(key), `must be true or false, got ${describe(value)}`);
      return opts.default;
    }
    return value;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], opts: Opts<T> & { default: T }): T;
  oneOf<T extends string>(key: string, allowed: readonly T[], opts?: Opts<T>): T | undefined;
  oneOf<T extends string>(key: string, allowed: readonly T[], opts: Opts<T> = {}): T | undefined {
    const value = this.string(key, { required: opts.required });
    if (value === undefined) return opts.default;
    if (!(allowed as readonly string[]).includes(value)) {
      this.problems.error(
        this.keyPath(key),
        `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${JSON.stringify(value)}`,
      );
      return opts.default;
    }
    return value as T;
  }

  stringList(key: string, opts: Opts<string[]> = {}): string[] | undefined {
    const value = this.take(key, opts.required, 'a list of strings');
    if (value === undefined) return opts.default;
    const list = typeof value === 'string' ? [value] : value;
    if (!Array.isArray(list) || !list.every((item) => typeof item === 'string')) {
      this.problems.error(this.keyPath(key), `must be a list of strings, got ${describe(value)}`);
      return opts.default;
    }
    return list as string[];
  }

  /** A nested mapping; a missing one is an empty section so its defaults apply. */
  section(key: string, opts: { required?: boolean } = {}): ConfigSection {
    const value = this.take(key, opts.required, 'a mapping');
    if (value !== undefined && !isPlainObject(value)) {
      this.problems.error(this.keyPath(key), `must be a mapping, got ${describe(value)}`);
      return new ConfigSection(this.keyPath(key), {}, this.problems, this.baseDir);
    }
    return new ConfigSection(this.keyPath(key), (value as RawObject | undefined) ?? {}, this.problems, this.baseDir);
  }

  /** Every key of this mapping with its own section (used for `apps`). */
  entries(): Array<[string, unknown]> {
    return Object.entries(this.raw);
  }

  /**
   * A path to a file that must be readable; resolved against the config file's directory.
   * Returns the absolute path, or undefined (with an error recorded) when it is not readable.
   */
  file(key: string, opts: { required?: boolean } = {}): string | undefined {
    const value = this.string(key, { required: opts.required });
    if (value === undefined) return undefined;
    const path = isAbsolute(value) ? value : resolve(this.baseDir, value);
    try {
      accessSync(path, fsConstants.R_OK);
    } catch (err) {
      // A relative path is read from the config file's folder, not the working directory: say where.
      const where = path === value ? '' : ` (looked for ${path}, relative to the config file's folder)`;
      this.problems.error(this.keyPath(key), `cannot read file ${JSON.stringify(value)}: ${errnoText(err)}${where}`);
      return undefined;
    }
    return path;
  }

  /** Reads a file named by `key` as text, reporting unreadable files at the key's path. */
  fileText(key: string, opts: { required?: boolean } = {}): { path: string; text: string } | undefined {
    const path = this.file(key, opts);
    if (path === undefined) return undefined;
    try {
      return { path, text: readFileSync(path, 'utf8') };
    } catch (err) {
      this.problems.error(this.keyPath(key), `cannot read file ${JSON.stringify(path)}: ${errnoText(err)}`);
      return undefined;
    }
  }

  error(key: string, message: string): void {
    this.problems.error(this.keyPath(key), message);
  }

  warn(key: string, message: string): void {
    this.problems.warn(this.keyPath(key), message);
  }

  /** Warns once per key that no getter asked for. */
  finish(): void {
    for (const key of Object.keys(this.raw)) {
      if (!this.known.has(key)) this.problems.warn(this.keyPath(key), 'unknown key, ignored');
    }
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function errnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return (err as Error).message;
}
