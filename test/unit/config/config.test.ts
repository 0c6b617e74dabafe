import assert from 'node:assert/strict';
import { configProblems } from '../../helpers/config';
import { loadConfigText } from '../../../src/config/config';
import { BUILTIN_PUSHKIN_TYPES } from '../../../src/pushkins/registry';

function load(yaml: string) {
  return loadConfigText(yaml, '/nonexistent-dir', BUILTIN_PUSHKIN_TYPES);
}

function problemsOf(yaml: string): readonly string[] {
  return configProblems(() => load(yaml));
}

describe('config/config', () => {
  it('applies Sygnal defaults to a minimal file', () => {
    const { config, warnings } = load('apps: {a.b.c: {type: noop}}');
    assert.deepEqual(warnings, []);
    assert.equal(config.http.port, 5000);
    assert.deepEqual(config.http.bindAddresses, ['127.0.0.1']);
    assert.equal(config.http.maxBodyBytes, 512 * 1024);
    assert.equal(config.http.notifyDeadlineMs, 20_000);
    assert.deepEqual(config.metrics.prometheus, { enabled: false, address: '127.0.0.1', port: 8000 });
    assert.equal(config.apps[0]?.name, 'a.b.c');
    assert.equal(config.apps[0]?.inflightRequestLimit, 512);
  });

  it("accepts Sygnal's own sections, warning about what Herald ignores", () => {
    const { config, warnings } = load(`
log:
  setup:
    version: 1
    formatters: {normal: {format: "%(asctime)s %(message)s"}}
    handlers: {stderr: {class: logging.StreamHandler, formatter: normal}}
    root: {handlers: [stderr], level: INFO}
  access:
    x_forwarded_for: true
http:
  bind_addresses: ['127.0.0.1', '::1']
  port: 5001
metrics:
  prometheus: {enabled: true, address: '0.0.0.0', port: 8001}
  opentracing: {enabled: false, implementation: jaeger, service_name: sygnal}
  sentry: {enabled: true, dsn: 'https://x@sentry.example/1'}
proxy: 'http://user:secret@proxy.example:3128'
apps:
  im.vector.app.noop:
    type: noop
`);
    assert.equal(config.http.port, 5001);
    assert.deepEqual(config.http.bindAddresses, ['127.0.0.1', '::1']);
    assert.deepEqual(config.http.trustedProxies, [
      { address: '127.0.0.0', prefix: 8, family: 'ipv4' },
      { address: '::1', prefix: 128, family: 'ipv6' },
    ]);
    assert.equal(config.log.accessEnabled, true);
    assert.equal(config.metrics.prometheus.port, 8001);
    assert.equal(config.proxy, 'http://user:secret@proxy.example:3128');
    assert.deepEqual(warnings, [
      "log.setup: Sygnal's Python logging setup is not used by Herald and is ignored; set log.level instead",
      'log.access.x_forwarded_for: Herald believes X-Forwarded-For only from a reverse proxy on this host (127.0.0.0/8, ::1), where Sygnal believes any client; if your proxy runs elsewhere, list its address in http.trusted_proxies (this key is then not needed)',
    ]);
    assert.deepEqual(config.observability, { sentry: { dsn: 'https://x@sentry.example/1' } });
  });

  it("reads Sygnal's log.access.enabled and explains that log.access.file is not used", () => {
    const { config, warnings } = load('log: {access: {enabled: false, file: /var/log/sygnal/access.log, x_forwarded_for: false}}\napps: {a: {type: noop}}\n');
    assert.equal(config.log.accessEnabled, false);
    assert.deepEqual(warnings, [
      'log.access.file: not used: access lines go to standard output with the other log lines (set log.access.enabled: false to turn them off)',
    ]);
  });

  it('reads unknown_app_id, reject by default as in Sygnal', () => {
    assert.equal(load('apps: {a: {type: noop}}\n').config.unknownAppId, 'reject');
    assert.equal(load('unknown_app_id: retry\napps: {a: {type: noop}}\n').config.unknownAppId, 'retry');
    assert.deepEqual(problemsOf('unknown_app_id: 502\napps: {a: {type: noop}}\n'), ['unknown_app_id: must be one of "reject", "retry", got "502"']);
  });

  it('warns about unknown keys, naming them', () => {
    const { warnings } = load('colour: blue\nhttp: {porty: 1}\napps: {"com.example.x": {type: noop, extra_key: 1}}');
    assert.deepEqual(warnings, [
      'http.porty: unknown key, ignored',
      'apps."com.example.x".extra_key: unknown key, ignored',
      'colour: unknown key, ignored',
    ]);
  });

  it('reports every problem at once, each with its key path', () => {
    const problems = problemsOf(`
http:
  port: "eighty"
  bind_addresses: 7
log:
  level: loud
proxy: 'socks5://proxy:1080'
apps:
  com.example.typo:
    type: apnz
  com.example.missing: {}
  com.example.limit:
    type: noop
    inflight_request_limit: 0
`);
    assert.deepEqual(problems, [
      'http.port: must be an integer, got string "eighty"',
      'http.bind_addresses: must be a list of strings, got number 7',
      'log.level: must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent", got "loud"',
      'proxy: must be an http:// proxy URL (expected http://[user:pass@]host:port), got "socks5://proxy:1080"',
      'apps."com.example.typo".type: unknown pushkin type "apnz"; known types: ' + [...BUILTIN_PUSHKIN_TYPES.keys()].join(', '),
      'apps."com.example.missing".type: required (a string)',
      'apps."com.example.limit".inflight_request_limit: must be at least 1, got 0',
    ]);
  });

  it('reads the store: memory by default, or Redis with its URL, prefix and timeout', () => {
    const memory = load('apps: {a: {type: noop}}').config.store;
    assert.equal(memory.type, 'memory');
    assert.equal(memory.redis, undefined);
    const { config, warnings } = load('store: {type: redis, url: "rediss://:secret@redis.example.org:6380/1", dedup_ttl_seconds: 600, dedup_max_entries: 5}\napps: {a: {type: noop}}');
    assert.deepEqual(config.store.redis, { url: 'rediss://:secret@redis.example.org:6380/1', keyPrefix: 'herald:', timeoutMs: 100 });
    assert.equal(config.store.dedupTtlSeconds, 600);
    assert.deepEqual(warnings, ['store.dedup_max_entries: used only with store.type: memory; size Redis with its own maxmemory']);
    assert.deepEqual(load('store: {url: "redis://x"}\napps: {a: {type: noop}}').warnings, ['store.url: used only with store.type: redis; ignored']);
  });

  it('refuses a Redis store without a usable URL, never quoting the URL (it may hold a password)', () => {
    assert.deepEqual(problemsOf('store: {type: redis}\napps: {a: {type: noop}}'), ['store.url: required with store.type: redis (or store.sentinel, or store.cluster)']);
    assert.deepEqual(problemsOf('store: {type: redis, url: "http://:pw@host:6379", timeout_ms: 0}\napps: {a: {type: noop}}'), [
      'store.url: must start with redis:// or rediss:// (TLS), not http://',
      'store.timeout_ms: must be at least 1, got 0',
    ]);
    assert.deepEqual(problemsOf('store: {type: redis, url: "not a url"}\napps: {a: {type: noop}}'), [
      'store.url: must be a URL such as redis://host:6379 or rediss://:password@host:6380',
    ]);
  });

  it('reads a Sentinel or a Cluster topology instead of a URL', () => {
    const sentinel = load(`
store:
  type: redis
  sentinel: {name: herald, nodes: ['10.0.0.1:26380', 'sentinel.internal', '[fd00::1]:26379'], password: data-pw, sentinel_password: s-pw, tls: true}
apps: {a: {type: noop}}`);
    assert.deepEqual(sentinel.warnings, []);
    assert.deepEqual(sentinel.config.store.redis, {
      sentinel: {
        name: 'herald',
        nodes: [
          { host: '10.0.0.1', port: 26380 },
          { host: 'sentinel.internal', port: 26379 },
          { host: 'fd00::1', port: 26379 },
        ],
        password: 'data-pw',
        sentinelPassword: 's-pw',
        tls: true,
      },
      keyPrefix: 'herald:',
      timeoutMs: 100,
    });
    const cluster = load("store: {type: redis, cluster: {nodes: ['10.0.0.1:7000', 10.0.0.2]}, key_prefix: 'h:'}\napps: {a: {type: noop}}");
    assert.deepEqual(cluster.config.store.redis, {
      cluster: { nodes: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 6379 }], tls: false },
      keyPrefix: 'h:',
      timeoutMs: 100,
    });
  });

  const TOPOLOGY_PROBLEMS: ReadonlyArray<readonly [string, readonly string[]]> = [
    ['{url: "redis://a", cluster: {nodes: [a]}}', ['store.cluster: give one of store.url, store.sentinel and store.cluster, not url and cluster']],
    ['{sentinel: {nodes: [a]}}', ['store.sentinel.name: required (a string)']],
    ['{sentinel: {name: m, nodes: []}}', ['store.sentinel.nodes: must name at least one node (host:port)']],
    ['{sentinel: {name: m}}', ['store.sentinel.nodes: required (a list of strings)']],
    ['{cluster: {nodes: ["a:0", "b:x", "a b:1", "c:70000"], tls: "yes"}}', [
      'store.cluster.nodes[0]: must be host:port (e.g. 10.0.0.1:6379), got "a:0"',
      'store.cluster.nodes[1]: must be host:port (e.g. 10.0.0.1:6379), got "b:x"',
      'store.cluster.nodes[2]: must be host:port (e.g. 10.0.0.1:6379), got "a b:1"',
      'store.cluster.nodes[3]: must be host:port (e.g. 10.0.0.1:6379), got "c:70000"',
      'store.cluster.tls: must be true or false, got string "yes"',
    ]],
    ['{cluster: {nodes: [a]}, key_prefix: "h{x}:"}', ['store.key_prefix: must not contain { or } with store.cluster: Herald puts a hash tag of its own in every key']],
    ['{sentinel: "mymaster"}', ['store.sentinel: must be a mapping, got string "mymaster"', 'store.sentinel.name: required (a string)', 'store.sentinel.nodes: required (a list of strings)']],
  ];
  for (const [store, problems] of TOPOLOGY_PROBLEMS) {
    it(`refuses store: ${store}, naming the key`, () => {
      assert.deepEqual(problemsOf(`store: {type: redis, ${store.slice(1, -1)}}\napps: {a: {type: noop}}`), problems);
    });
  }

  it('refuses several workers with the memory store, naming store.type: redis as the way', () => {
    for (const yaml of ['workers: 2\napps: {a: {type: noop}}', 'workers: 3\nstore: {type: memory}\napps: {a: {type: noop}}']) {
      const [problem, ...others] = problemsOf(yaml);
      assert.deepEqual(others, []);
      assert.match(String(problem), /^store\.type: memory \(the default\) is seen by one process only, and workers: \d runs \d; set store\.type: redis/);
    }
    assert.equal(load('workers: 2\nstore: {type: redis, url: "redis://127.0.0.1:6379"}\napps: {a: {type: noop}}').config.workers, 2);
  });

  it('requires at least one listening address', () => {
    assert.deepEqual(problemsOf('http: {bind_addresses: []}\napps: {a: {type: noop}}'), ['http.bind_addresses: must list at least one address (e.g. 127.0.0.1)']);
  });

  it('requires at least one app', () => {
    assert.deepEqual(problemsOf('http: {port: 5000}'), ['apps: required (a mapping)']);
    assert.deepEqual(problemsOf('apps: {}'), ['apps: at least one app must be configured']);
  });

  it('names the line of a YAML syntax error: where the mistake is, also for what was left open', () => {
    const cases: ReadonlyArray<readonly [string, number]> = [
      ['apps:\n  a: {type: noop\n', 2],
      ['apps:\n  "a: {type: noop}\n', 2],
      ['apps:\n  a:\n    type: noop\n  b: [1, 2\nhttp: {}\n', 4],
      ['# a comment with a { in it\napps:\n  a: {type: noop, reject_pushkeys: ["k"\n', 3],
      ['http:\n  port: 5000\n bind: x\napps:\n  a: {type: noop}\n', 3],
      ['apps:\n  a:\n    type: noop\n    type: apns\n', 4],
      ['apps:\n  a:\n\ttype: noop\n', 3],
    ];
    for (const [yaml, line] of cases) {
      const [problem] = problemsOf(yaml);
      assert.match(problem ?? '', new RegExp(`^the file is not valid YAML \\(line ${line}\\): [^\\n]+[^:]$`), JSON.stringify(yaml));
      // The parser's own position (often the line after) is not repeated.
      assert.doesNotMatch(problem ?? '', /at line \d+, column/);
    }
  });

  describe('apps: globs that can match the same app_id', () => {
    it('are refused, naming both keys and an app_id both match', () => {
      assert.deepEqual(problemsOf('apps:\n  "com.example.*": {type: noop}\n  "com.*.ios": {type: noop}\n'), [
        'apps."com.*.ios": overlaps apps."com.example.*": both globs match app_ids such as "com.example.ios", so Herald could not tell which app serves them; make the globs disjoint (an exact app_id key beside a glob is fine: it wins)',
      ]);
    });

    it('are refused whatever else they overlap, one problem per pair', () => {
      const problems = problemsOf('apps:\n  "*": {type: noop}\n  "org.*": {type: noop}\n  "com.?": {type: noop}\n');
      assert.equal(problems.length, 2);
      assert.match(problems[0] ?? '', /^apps\."org\.\*": overlaps apps\."\*"/);
      assert.match(problems[1] ?? '', /^apps\."com\.\?": overlaps apps\."\*"/);
    });

    it('disjoint globs, exact keys beside globs, and a lone catch-all "*" are fine', () => {
      for (const apps of [
        '"com.example.*": {type: noop}\n  "org.example.*": {type: noop}\n  "net.*.ios": {type: noop}',
        'com.example.ios: {type: noop}\n  "com.example.*": {type: noop}\n  "org.*.android": {type: noop}',
        '"*": {type: noop}\n  com.example.ios: {type: noop}\n  com.example.android: {type: noop}',
      ]) {
        const { config } = load(`apps:\n  ${apps}\n`);
        assert.equal(config.apps.length, 3);
      }
    });
  });

  it('names a relative file both as written and where it was looked for (the config file\'s folder)', () => {
    assert.deepEqual(problemsOf('apps:\n  a: {type: webpush, vapid_private_key: keys/vapid.pem, vapid_contact_email: a@b.c}\n'), [
      'apps.a.vapid_private_key: cannot read file "keys/vapid.pem": no such file (looked for /nonexistent-dir/keys/vapid.pem, relative to the config file\'s folder)',
    ]);
    assert.deepEqual(problemsOf('apps:\n  a: {type: webpush, vapid_private_key: /nonexistent-dir/vapid.pem, vapid_contact_email: a@b.c}\n'), [
      'apps.a.vapid_private_key: cannot read file "/nonexistent-dir/vapid.pem": no such file',
    ]);
  });

  it('refuses a file that is not a mapping', () => {
    assert.deepEqual(problemsOf('- a\n- b\n'), ['(top level): must be a mapping of keys to values', 'apps: required (a mapping)']);
  });
});
