import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { globsOverlap, isGlob, UNKNOWN_APP_ID_POLICIES, type UnknownAppIdPolicy } from '../dispatch/router';
import { parseCidr, type Cidr } from '../guard/callers';
import type { BucketLimit } from '../guard/token-bucket';
import { DEFAULT_INFLIGHT_QUEUE_LIMIT, DEFAULT_INFLIGHT_REQUEST_LIMIT } from '../pushkins/limit';
import type { PushkinType } from '../pushkins/pushkin';
import type { PushkinTypes } from '../pushkins/registry';
import { readObservability, type ObservabilityConfig } from '../observability/config';
import type { RedisNode, RedisTopology } from '../store/redis';
import { LOG_LEVELS, type LogLevel } from '../util/log';
import { proxyUrlProblem } from '../util/proxy';
import { ConfigError, ConfigProblems, ConfigSection, isPlainObject, pathKey } from './section';

/** One entry of `apps`: a configured pushkin, validated but not yet built. */
export interface AppConfig {
  /** The `apps` key: an app_id, or a glob matching several. */
  readonly name: string;
  readonly type: string;
  readonly pushkinType: PushkinType<unknown>;
  /** The platform's own validated settings (shape defined by the pushkin type). */
  readonly settings: unknown;
  readonly inflightRequestLimit: number;
  /** Devices that may wait for a slot once `inflightRequestLimit` are in flight; 0 turns them away at once. */
  readonly inflightQueueLimit: number;
}

export interface HeraldConfig {
  readonly http: {
    readonly port: number;
    readonly bindAddresses: readonly string[];
    /** Largest notify body accepted, in bytes. */
    readonly maxBodyBytes: number;
    /** How long a notify request may take before undelivered devices are answered 502. */
    readonly notifyDeadlineMs: number;
    /** On SIGTERM/SIGINT, how long in-flight requests may take to finish. */
    readonly shutdownGraceMs: number;
    /** How long a client may take to send a whole request (headers and body). */
    readonly requestTimeoutMs: number;
    /** How long a client may take to send a request's headers. */
    readonly headersTimeoutMs: number;
    /** How long an idle keep-alive connection stays open. */
    readonly keepAliveTimeoutMs: number;
    /** Connections open at once per listener; more are closed on arrival. */
    readonly maxConnections: number;
    /** Networks allowed to call the gateway; undefined: everyone. */
    readonly allowedCallers?: readonly Cidr[];
    /** Reverse proxies whose X-Forwarded-For entries are believed; empty: none. */
    readonly trustedProxies: readonly Cidr[];
    /** Token-bucket request limits; undefined: none. */
    readonly rateLimit?: { readonly perCaller: BucketLimit; readonly perPushkey: BucketLimit };
  };
  readonly log: {
    readonly level: LogLevel;
    /** Write one access line per request (Sygnal's log.access.enabled). */
    readonly accessEnabled: boolean;
  };
  readonly metrics: {
    readonly prometheus: { readonly enabled: boolean; readonly address: string; readonly port: number };
  };
  /** Tracing and error reports; each present only when enabled. */
  readonly observability: ObservabilityConfig;
  /** Outbound HTTP CONNECT proxy for upstream traffic. */
  readonly proxy?: string;
  /** What devices whose app_id no app serves are answered. */
  readonly unknownAppId: UnknownAppIdPolicy;
  /** Processes serving the notify port (node:cluster); 1 serves from the main process. */
  readonly workers: number;
  readonly store: StoreConfig;
  readonly apps: readonly AppConfig[];
}

/** What Herald remembers between requests, and where (see src/store). */
export interface StoreConfig {
  readonly type: 'memory' | 'redis';
  readonly rejectedTtlSeconds: number;
  readonly dedupTtlSeconds: number;
  /** Bounds of the memory store (a Redis server is bounded by its own maxmemory). */
  readonly rejectedMaxEntries: number;
  readonly dedupMaxEntries: number;
  /** Present when `type` is redis: where (one server, Sentinel or Cluster), and how. */
  readonly redis?: RedisTopology & {
    readonly keyPrefix: string;
    /** The longest a store call may take before Herald goes on without it. */
    readonly timeoutMs: number;
  };
}

export interface LoadedConfig {
  readonly config: HeraldConfig;
  readonly warnings: readonly string[];
}

export const DEFAULT_MAX_BODY_BYTES = 512 * 1024;
/** Below Dendrite's 30 s and Synapse's 60 s homeserver timeouts, so Herald answers first. */
export const DEFAULT_NOTIFY_DEADLINE_MS = 20_000;
/** A homeserver sends a notification of a few KB at once; a body still arriving after this is stalled. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
/** Above the 60 s idle timeout of common load balancers, so they close first. */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 65_000;
export const DEFAULT_MAX_CONNECTIONS = 10_000;
/** A whole homeserver: generous, for floods from a broken or hostile caller. */
export const DEFAULT_CALLER_RATE: BucketLimit = { perSecond: 500, burst: 5_000 };
/** One device: a busy room's bursts pass; a homeserver's retries (1 s apart and more) always do. */
export const DEFAULT_PUSHKEY_RATE: BucketLimit = { perSecond: 5, burst: 50 };

/**
 * Validates a parsed YAML document into a HeraldConfig. Reads Sygnal's shape
 * (`sygnal.yaml.sample` in Sygnal's repository) plus Herald's additions. Throws ConfigError listing every
 * problem with its key path; returns warnings (unknown keys, ignored settings) otherwise.
 */
export function validateConfig(raw: unknown, baseDir: string, pushkinTypes: PushkinTypes): LoadedConfig {
  const problems = new ConfigProblems();
  const root = ConfigSection.root(raw, problems, baseDir);

  const httpSection = root.section('http');
  const http = {
    port: httpSection.integer('port', { default: 5000, min: 0, max: 65535 }),
    bindAddresses: httpSection.stringList('bind_addresses', { default: ['127.0.0.1'] }) ?? ['127.0.0.1'],
    maxBodyBytes: httpSection.integer('max_body_bytes', { default: DEFAULT_MAX_BODY_BYTES, min: 1024 }),
    notifyDeadlineMs: httpSection.integer('notify_deadline_ms', { default: DEFAULT_NOTIFY_DEADLINE_MS, min: 100 }),
    shutdownGraceMs: httpSection.integer('shutdown_grace_ms', { default: 10_000, min: 0 }),
    requestTimeoutMs: httpSection.integer('request_timeout_ms', { default: DEFAULT_REQUEST_TIMEOUT_MS, min: 1_000 }),
    headersTimeoutMs: httpSection.integer('headers_timeout_ms', { default: DEFAULT_HEADERS_TIMEOUT_MS, min: 1_000 }),
    keepAliveTimeoutMs: httpSection.integer('keep_alive_timeout_ms', { default: DEFAULT_KEEP_ALIVE_TIMEOUT_MS, min: 1_000 }),
    maxConnections: httpSection.integer('max_connections', { default: DEFAULT_MAX_CONNECTIONS, min: 1 }),
  };
  if (http.bindAddresses.length === 0) httpSection.error('bind_addresses', 'must list at least one address (e.g. 127.0.0.1)');
  if (http.headersTimeoutMs > http.requestTimeoutMs) {
    httpSection.error('headers_timeout_ms', `must not be more than request_timeout_ms (${http.requestTimeoutMs}), which includes the headers`);
  }
  // `http.allowed_callers`: absent means everyone may call.
  const allowedCallers = readNetworks(httpSection, 'allowed_callers', 'an empty list would refuse every caller; leave the key out to allow everyone');
  const listedProxies = readNetworks(httpSection, 'trusted_proxies', undefined, (network) =>
    network.prefix === 0 ? 'trusting every address would let any client choose the address Herald sees; list your reverse proxies' : undefined,
  );
  const rateLimit = readRateLimit(httpSection);
  httpSection.finish();

  const logSection = root.section('log');
  if (logSection.has('setup')) {
    logSection.warn('setup', "Sygnal's Python logging setup is not used by Herald and is ignored; set log.level instead");
  }
  logSection.accept('setup');
  const access = logSection.section('access');
  const log = {
    level: logSection.oneOf('level', LOG_LEVELS, { default: 'info' }),
    accessEnabled: access.boolean('enabled', { default: true }),
  };
  const trustedProxies = readTrustedProxies(access, listedProxies);
  // Sygnal accepts the key but writes nothing there either: its access lines go where log.setup sends them.
  if (access.string('file') !== undefined) {
    access.warn('file', 'not used: access lines go to standard output with the other log lines (set log.access.enabled: false to turn them off)');
  }
  access.finish();
  logSection.finish();

  const metricsSection = root.section('metrics');
  const prometheus = metricsSection.section('prometheus');
  const metrics = {
    prometheus: {
      enabled: prometheus.boolean('enabled', { default: false }),
      address: prometheus.string('address', { default: '127.0.0.1' }),
      port: prometheus.integer('port', { default: 8000, min: 0, max: 65535 }),
    },
  };
  prometheus.finish();
  const observability = readObservability(root, metricsSection);
  metricsSection.finish();

  // Older Sygnal versions kept GCM canonical registration ids in a database.
  for (const key of ['database', 'db']) {
    if (root.has(key)) root.warn(key, "the database of older Sygnal versions is not used by Herald; ignored");
  }
  root.accept('database', 'db');

  const unknownAppId = root.oneOf('unknown_app_id', UNKNOWN_APP_ID_POLICIES, { default: 'reject' });
  const workers = root.integer('workers', { default: 1, min: 1, max: 64 });
  const proxy = root.string('proxy');
  const proxyProblem = proxy !== undefined ? proxyUrlProblem(proxy) : undefined;
  if (proxyProblem !== undefined) root.error('proxy', proxyProblem);

  const store = readStore(root.section('store'), workers);

  const apps = readApps(root.section('apps', { required: true }), pushkinTypes, problems);
  root.finish();

  if (problems.errors.length > 0) throw new ConfigError(problems.errors, problems.warnings);
  const config: HeraldConfig = {
    http: { ...http, trustedProxies, ...(allowedCallers !== undefined ? { allowedCallers } : {}), ...(rateLimit !== undefined ? { rateLimit } : {}) },
    log,
    metrics,
    observability,
    ...(proxy !== undefined ? { proxy } : {}),
    unknownAppId,
    workers,
    store,
    apps,
  };
  return { config, warnings: problems.warnings };
}

/**
 * A list of networks (CIDR) or addresses, each bad entry named by its index; `ifEmpty`:
 * the error for an empty list; `refuse`: a further check of each network.
 */
function readNetworks(
  section: ConfigSection,
  key: string,
  ifEmpty?: string,
  refuse?: (network: Cidr) => string | undefined,
): Cidr[] | undefined {
  const entries = section.stringList(key);
  if (entries === undefined) return undefined;
  if (entries.length === 0 && ifEmpty !== undefined) section.error(key, ifEmpty);
  const networks: Cidr[] = [];
  entries.forEach((entry, index) => {
    const parsed = parseCidr(entry);
    const problem = typeof parsed === 'string' ? parsed : refuse?.(parsed);
    if (problem !== undefined) section.problems.error(`${section.keyPath(key)}[${index}]`, problem);
    else if (typeof parsed !== 'string') networks.push(parsed);
  });
  return networks;
}

/** This host: a reverse proxy running beside Herald. */
const LOOPBACK: readonly Cidr[] = [
  { address: '127.0.0.0', prefix: 8, family: 'ipv4' },
  { address: '::1', prefix: 128, family: 'ipv6' },
];

/**
 * Whose X-Forwarded-For is believed: `http.trusted_proxies`, or else Sygnal's
 * `log.access.x_forwarded_for`. With it, Sygnal's access log shows the header's first
 * entry whoever sent it (sygnal/http.py hands it to Twisted's proxiedLogFormatter).
 * Herald uses the caller's address for its allow-list and rate limits too, where a
 * header any client can write must not count, so `true` means a proxy on this host.
 */
function readTrustedProxies(access: ConfigSection, listed: Cidr[] | undefined): readonly Cidr[] {
  const xForwardedFor = access.boolean('x_forwarded_for', { default: false });
  if (listed !== undefined) {
    if (xForwardedFor) access.warn('x_forwarded_for', 'ignored: http.trusted_proxies says whose X-Forwarded-For is believed');
    return listed;
  }
  if (!xForwardedFor) return [];
  access.warn(
    'x_forwarded_for',
    'Herald believes X-Forwarded-For only from a reverse proxy on this host (127.0.0.0/8, ::1), where Sygnal believes any client; ' +
      "if your proxy runs elsewhere, list its address in http.trusted_proxies (this key is then not needed)",
  );
  return LOOPBACK;
}

/** `http.rate_limit`: present (even `{}`) turns both limits on, each with its defaults. */
function readRateLimit(httpSection: ConfigSection): HeraldConfig['http']['rateLimit'] {
  if (!httpSection.has('rate_limit')) {
    httpSection.accept('rate_limit');
    return undefined;
  }
  const section = httpSection.section('rate_limit');
  const limit = (key: string, defaults: BucketLimit): BucketLimit => {
    const sub = section.section(key);
    const perSecond = sub.integer('per_second', { default: defaults.perSecond, min: 1 });
    const burst = sub.integer('burst', { default: defaults.burst, min: 1 });
    sub.finish();
    return { perSecond, burst };
  };
  const result = { perCaller: limit('per_caller', DEFAULT_CALLER_RATE), perPushkey: limit('per_pushkey', DEFAULT_PUSHKEY_RATE) };
  section.finish();
  return result;
}

export const DEFAULT_STORE_TIMEOUT_MS = 100;

function readStore(section: ConfigSection, workers: number): StoreConfig {
  const type = section.oneOf('type', ['memory', 'redis'] as const, { default: 'memory' });
  const common = {
    type,
    rejectedTtlSeconds: section.integer('rejected_ttl_seconds', { default: 86_400, min: 1 }),
    rejectedMaxEntries: section.integer('rejected_max_entries', { default: 100_000, min: 1 }),
    dedupTtlSeconds: section.integer('dedup_ttl_seconds', { default: 86_400, min: 1 }),
    dedupMaxEntries: section.integer('dedup_max_entries', { default: 100_000, min: 1 }),
  };
  const redisKeys = ['url', 'sentinel', 'cluster', 'key_prefix', 'timeout_ms'];
  if (type === 'memory') {
    // Each worker would remember on its own: a retry reaching another worker notifies twice.
    if (workers > 1) {
      section.error('type', `memory (the default) is seen by one process only, and workers: ${workers} runs ${workers}; set store.type: redis (and store.url) so the workers share what they remember`);
    }
    for (const key of redisKeys.filter((k) => section.has(k))) section.warn(key, 'used only with store.type: redis; ignored');
    section.accept(...redisKeys);
    section.finish();
    return common;
  }
  const topology = readRedisTopology(section);
  const keyPrefix = section.string('key_prefix', { default: 'herald:' });
  // A brace in the prefix would make it the hash tag of every key: all on one Cluster node.
  if (topology !== undefined && 'cluster' in topology && /[{}]/.test(keyPrefix)) {
    section.error('key_prefix', 'must not contain { or } with store.cluster: Herald puts a hash tag of its own in every key');
  }
  const redis = {
    ...(topology ?? { url: '' }),
    keyPrefix,
    timeoutMs: section.integer('timeout_ms', { default: DEFAULT_STORE_TIMEOUT_MS, min: 1, max: 10_000 }),
  };
  for (const key of ['rejected_max_entries', 'dedup_max_entries'].filter((k) => section.has(k))) {
    section.warn(key, "used only with store.type: memory; size Redis with its own maxmemory");
  }
  section.finish();
  return { ...common, redis };
}

/** Exactly one of store.url (one server), store.sentinel, store.cluster; undefined after an error. */
function readRedisTopology(section: ConfigSection): RedisTopology | undefined {
  const given = (['url', 'sentinel', 'cluster'] as const).filter((key) => section.has(key));
  if (given.length !== 1) {
    section.error(given[1] ?? 'url', given.length === 0 ? 'required with store.type: redis (or store.sentinel, or store.cluster)' : `give one of store.url, store.sentinel and store.cluster, not ${given.join(' and ')}`);
    section.accept('url', 'sentinel', 'cluster');
    return undefined;
  }
  if (given[0] === 'url') {
    const url = section.string('url', { required: true });
    const problem = redisUrlProblem(url);
    if (problem !== undefined) section.error('url', problem);
    return { url };
  }
  if (given[0] === 'sentinel') {
    const sentinel = section.section('sentinel');
    const name = sentinel.string('name', { required: true });
    const nodes = readRedisNodes(sentinel, 26379);
    const password = sentinel.string('password');
    const sentinelPassword = sentinel.string('sentinel_password');
    const tls = sentinel.boolean('tls', { default: false });
    sentinel.finish();
    return {
      sentinel: {
        name: name ?? '',
        nodes,
        tls,
        ...(password !== undefined ? { password } : {}),
        ...(sentinelPassword !== undefined ? { sentinelPassword } : {}),
      },
    };
  }
  const cluster = section.section('cluster');
  const nodes = readRedisNodes(cluster, 6379);
  const password = cluster.string('password');
  const tls = cluster.boolean('tls', { default: false });
  cluster.finish();
  return { cluster: { nodes, tls, ...(password !== undefined ? { password } : {}) } };
}

/** `nodes`: host:port entries ([v6 address]:port; the port defaults to `defaultPort`). */
function readRedisNodes(section: ConfigSection, defaultPort: number): RedisNode[] {
  const entries = section.stringList('nodes', { required: true }) ?? [];
  if (entries.length === 0 && section.has('nodes')) section.error('nodes', 'must name at least one node (host:port)');
  const nodes: RedisNode[] = [];
  entries.forEach((entry, i) => {
    const match = /^(?:\[([^\]]+)\]|([^:\s[\]]+))(?::(\d{1,5}))?$/.exec(entry.trim());
    const port = match?.[3] === undefined ? defaultPort : Number(match[3]);
    if (!match || port < 1 || port > 65_535) {
      section.problems.error(`${section.keyPath('nodes')}[${i}]`, `must be host:port (e.g. 10.0.0.1:${defaultPort}), got ${JSON.stringify(entry)}`);
      return;
    }
    nodes.push({ host: match[1] ?? match[2] ?? '', port });
  });
  return nodes;
}

/** Why `url` cannot name a Redis server, or undefined. Never quotes the URL: it may hold a password. */
function redisUrlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'must be a URL such as redis://host:6379 or rediss://:password@host:6380';
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') return `must start with redis:// or rediss:// (TLS), not ${parsed.protocol}//`;
  if (!parsed.hostname) return 'must name a host, e.g. redis://127.0.0.1:6379';
  return undefined;
}

function readApps(appsSection: ConfigSection, pushkinTypes: PushkinTypes, problems: ConfigProblems): AppConfig[] {
  const apps: AppConfig[] = [];
  const entries = appsSection.entries();
  if (entries.length === 0 && problems.errors.length === 0) {
    problems.error('apps', 'at least one app must be configured');
  }
  for (const [name, rawApp] of entries) {
    const path = pathKey('apps', name);
    if (!isPlainObject(rawApp)) {
      problems.error(path, 'must be a mapping with at least a `type`');
      continue;
    }
    if (name.length === 0) problems.error(path, 'an app_id must not be empty');
    const section = appsSection.section(name);
    const type = section.string('type', { required: true });
    if (type === undefined) continue;
    const pushkinType = pushkinTypes.get(type);
    if (!pushkinType) {
      section.error('type', `unknown pushkin type ${JSON.stringify(type)}; known types: ${[...pushkinTypes.keys()].join(', ')}`);
      continue;
    }
    const inflightRequestLimit = section.integer('inflight_request_limit', { default: DEFAULT_INFLIGHT_REQUEST_LIMIT, min: 1 });
    const inflightQueueLimit = section.integer('inflight_queue_limit', { default: DEFAULT_INFLIGHT_QUEUE_LIMIT, min: 0 });
    const settings = pushkinType.readConfig(section);
    section.finish();
    // The canonical name (`gcm` for its alias `fcm`), so metrics and check-config agree with the pushkin.
    apps.push({ name, type: pushkinType.type, pushkinType, settings, inflightRequestLimit, inflightQueueLimit });
  }
  reportOverlappingGlobs(entries.map(([name]) => name), problems);
  return apps;
}

/**
 * Two glob keys that can both match an app_id leave that app_id without an app: the
 * router answers it 502 forever. Refused here, with an app_id both match. Exact keys win
 * over globs, so an exact key beside a glob (or a lone `*` beside exact keys) is fine.
 */
function reportOverlappingGlobs(names: readonly string[], problems: ConfigProblems): void {
  const globs = names.filter(isGlob);
  for (let i = 0; i < globs.length; i++) {
    for (let j = i + 1; j < globs.length; j++) {
      const common = globsOverlap(globs[i], globs[j]);
      if (common === undefined) continue;
      problems.error(
        pathKey('apps', globs[j]),
        `overlaps ${pathKey('apps', globs[i])}: both globs match app_ids such as ${JSON.stringify(common)}, so Herald could not tell which app serves them; make the globs disjoint (an exact app_id key beside a glob is fine: it wins)`,
      );
    }
  }
}

/** Where the CLI looks for its configuration when told nowhere else. */
export const DEFAULT_CONFIG_FILE = 'herald.yaml';

/** Reads and validates a YAML config file; relative paths inside it resolve against its directory. */
export function loadConfigFile(file: string, pushkinTypes: PushkinTypes): LoadedConfig {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    // Most often no file was named, and the working directory has none.
    const hint =
      file === DEFAULT_CONFIG_FILE && (err as NodeJS.ErrnoException).code === 'ENOENT'
        ? ` (no file was named, so ./${DEFAULT_CONFIG_FILE} was tried: name one with --config FILE or $HERALD_CONFIG; config.sample.yaml is an example)`
        : '';
    throw new ConfigError([`cannot read config file ${path}: ${(err as Error).message}${hint}`]);
  }
  return loadConfigText(text, dirname(path), pushkinTypes);
}

export function loadConfigText(text: string, baseDir: string, pushkinTypes: PushkinTypes): LoadedConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    const line = err instanceof YAMLParseError ? yamlErrorLine(text, err) : undefined;
    const message = (err as Error).message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    throw new ConfigError([`the file is not valid YAML${line !== undefined ? ` (line ${line})` : ''}: ${message}`]);
  }
  return validateConfig(raw, baseDir, pushkinTypes);
}

/**
 * The line to show for a YAML syntax error. The parser reports an unclosed `{`, `[` or
 * quote where it gave up looking for the end (the next line, or the end of the file):
 * the line that opened it is the one to fix.
 */
function yamlErrorLine(text: string, err: YAMLParseError): number | undefined {
  const reported = err.linePos?.[0].line;
  if (err.code !== 'MISSING_CHAR' && !/must be sufficiently indented and end with a/.test(err.message)) return reported;
  const opened = unclosedOpenerLine(text.slice(0, err.pos[0]));
  return opened ?? reported;
}

/** The line of the last `{`, `[` or quote left open in `prefix` (comments skipped), or undefined. */
function unclosedOpenerLine(prefix: string): number | undefined {
  const open: number[] = [];
  let quote: { readonly ch: string; readonly line: number } | undefined;
  let line = 1;
  for (let i = 0; i < prefix.length; i++) {
    const ch = prefix[i];
    if (ch === '\n') line++;
    if (quote !== undefined) {
      if (ch === '\\' && quote.ch === '"') i++;
      else if (ch === quote.ch) quote = undefined;
    } else if (ch === '#' && (i === 0 || /\s/.test(prefix[i - 1]))) {
      while (i + 1 < prefix.length && prefix[i + 1] !== '\n') i++;
    } else if ((ch === '"' || ch === "'") && (i === 0 || /[\s,[{:]/.test(prefix[i - 1]))) {
      quote = { ch, line };
    } else if (ch === '{' || ch === '[') {
      open.push(line);
    } else if (ch === '}' || ch === ']') {
      open.pop();
    }
  }
  return quote?.line ?? open.at(-1);
}
