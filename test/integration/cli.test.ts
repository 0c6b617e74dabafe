import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ONE_SHOT_ARGS } from '../../src/cli/v8-flags';
import { tempDir } from '../upstreams/temp';
import { apnsTestPki } from '../upstreams/apns-pki';

const ROOT = join(__dirname, '..', '..');
/** The built CLI, as installed (`npm test` builds first). */
const HERALD_BIN = join(ROOT, 'dist', 'src', 'main.js');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the built herald CLI; `whileRunning` gets the stdout seen so far and the process. */
function herald(args: string[], env: Record<string, string> = {}, untilReady?: (stdout: string) => boolean): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HERALD_BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (untilReady?.(stdout)) {
        untilReady = undefined;
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

function tempConfig(yaml: string): string {
  const dir = tempDir('cli');
  const file = join(dir, 'herald.yaml');
  writeFileSync(file, yaml);
  return file;
}

describe('herald CLI', () => {
  it('refuses an invalid config with one line per problem and a non-zero exit', async () => {
    const file = tempConfig(`
apps:
  com.example.ios:
    type: apns-typo
  com.example.other:
    type: noop
    reject_pushkeys: 5
`);
    const run = await herald(['--config', file]);
    assert.equal(run.code, 78);
    assert.match(run.stderr, /apps\."com\.example\.ios"\.type: unknown pushkin type "apns-typo"/);
    assert.match(run.stderr, /apps\."com\.example\.other"\.reject_pushkeys: must be a list of strings/);
  });

  it('says which file it could not read', async () => {
    const run = await herald(['--config', '/nonexistent/herald.yaml']);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /cannot read config file \/nonexistent\/herald\.yaml/);
  });

  it('with no file named and no ./herald.yaml, says how to name one', () => {
    const env = { ...process.env };
    delete env.HERALD_CONFIG;
    delete env.SYGNAL_CONF;
    for (const args of [[], ['check-config']]) {
      const run = spawnSync(process.execPath, [HERALD_BIN, ...args], { cwd: tempDir('cli-empty'), env, encoding: 'utf8' });
      assert.equal(run.status, 78, args.join(' '));
      assert.match(run.stderr, /cannot read config file .*\/herald\.yaml: .*\(no file was named, so \.\/herald\.yaml was tried: name one with --config FILE or \$HERALD_CONFIG; config\.sample\.yaml is an example\)$/m);
    }
  });

  it('an unknown command is called one, listing the commands', () => {
    const run = spawnSync(process.execPath, [HERALD_BIN, 'frobnicate'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(run.status, 1);
    assert.equal(run.stderr, "error: unknown command 'frobnicate' (commands: check-config, send-test, hash-pushkey, vapid-keys; see herald --help)\n");
  });

  it("knows every command as one-shot, so only serving re-executes with Herald's V8 settings", () => {
    const run = spawnSync(process.execPath, [HERALD_BIN, 'frobnicate'], { cwd: ROOT, encoding: 'utf8' });
    const commands = /\(commands: ([^;]+);/.exec(run.stderr)?.[1]?.split(', ') ?? [];
    assert.ok(commands.length > 0, run.stderr);
    for (const name of commands) assert.ok(ONE_SHOT_ARGS.has(name), `${name} is in ONE_SHOT_ARGS`);
  });

  it('refuses two globs that can match the same app_id, from check-config and at start-up, naming both keys', async () => {
    const file = tempConfig('apps:\n  "com.example.*": {type: noop}\n  "com.*.ios": {type: noop}\n  com.example.android: {type: noop}\n');
    for (const args of [['check-config', file], ['--config', file]]) {
      const run = await herald(args);
      assert.equal(run.code, 78, args.join(' '));
      assert.match(run.stderr, /^ {2}error: apps\."com\.\*\.ios": overlaps apps\."com\.example\.\*": both globs match app_ids such as "com\.example\.ios"/m);
    }
  });

  it('starts from $HERALD_CONFIG, serves, and exits 0 on SIGTERM', async () => {
    const file = tempConfig("http: {port: 0}\napps: {com.example.noop: {type: noop}}\n");
    const run = await herald([], { HERALD_CONFIG: file }, (out) => out.includes('herald is ready'));
    assert.equal(run.code, 0, run.stderr);
    const messages = run.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { msg: string }).msg);
    assert.deepEqual(messages, ['herald is ready', 'shutting down: finishing requests in flight', 'stopped'], run.stdout);
  });

  it('starts on the bundled sample config', async () => {
    const sample = tempConfig(
      (await import('node:fs')).readFileSync(join(ROOT, 'config.sample.yaml'), 'utf8').replace('port: 5000', 'port: 0'),
    );
    const run = await herald(['--config', sample], {}, (out) => out.includes('herald is ready'));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /org\.example\.herald\.noop \(noop\)/);
  });

  describe('check-config', () => {
    it('prints each app with its settings and exits 0', async () => {
      const file = tempConfig("apps:\n  com.example.noop: {type: noop, reject_pushkeys: [a, b]}\n  '*.example.other': {type: noop, inflight_request_limit: 8}\n");
      const run = await herald(['check-config', file]);
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.match(run.stdout, /com\.example\.noop {2}type=noop inflight_request_limit=512 reject_pushkeys=2 {2}\[ok\]/);
      assert.match(run.stdout, /\*\.example\.other {2}type=noop inflight_request_limit=8/);
      assert.match(run.stdout, /: OK$/m);
    });

    it('lists every problem on stderr and exits 78, as serve does', async () => {
      const file = tempConfig('http: {port: -1}\napps: {x: {type: nope}}\n');
      const run = await herald(['check-config', file]);
      assert.equal(run.code, 78);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /^ {2}error: http\.port: must be at least 0, got -1$/m);
      assert.match(run.stderr, /^ {2}error: apps\.x\.type: unknown pushkin type "nope"/m);
      const serve = await herald(['--config', file]);
      assert.equal(serve.code, 78);
      assert.equal(serve.stderr, run.stderr, 'the same report from both commands');
    });

    it('shows the warnings that explain an error next to it', async () => {
      const file = tempConfig('apps:\n  com.example.ios: {type: apns, keyfile: key.p8, keyid: ABC, team_id: T, topic: com.example.ios}\n');
      for (const args of [['check-config', file], ['--config', file], ['send-test', '--config', file, '--app-id', 'com.example.ios', '--pushkey', 'k']]) {
        const run = await herald(args);
        assert.equal(run.code, 78, args.join(' '));
        assert.match(run.stderr, /^ {2}error: apps\."com\.example\.ios"\.key_id: required/m, args.join(' '));
        assert.match(run.stderr, /^ {2}warning: apps\."com\.example\.ios"\.keyid: unknown key/m, args.join(' '));
      }
    });

    it('a malformed HTTPS_PROXY stops nothing that does not use it (a noop app), with a warning naming it', async () => {
      const file = tempConfig('apps:\n  com.example.noop: {type: noop}\n');
      const env = { HTTPS_PROXY: 'https://proxy.example:3128' };
      const check = await herald(['check-config', file], env);
      assert.equal(check.code, 0, check.stdout + check.stderr);
      const serve = await herald(['--config', tempConfig('http: {port: 0}\napps:\n  com.example.noop: {type: noop}\n')], env, (out) => out.includes('herald is ready'));
      assert.equal(serve.code, 0, serve.stderr);
      assert.match(serve.stdout, /"level":40,.*HTTPS_PROXY \(environment variable\): must be an http:\/\/ proxy URL.*not used so far/);
    });

    it('a malformed HTTPS_PROXY that an app would connect through: exit 78, naming the variable, not the file', async () => {
      const pki = apnsTestPki();
      const file = tempConfig(`apps:\n  com.example.ios: {type: apns, keyfile: ${pki.tokenKey.file}, key_id: ABC123DEFG, team_id: TEAM123456, topic: com.example.ios}\n`);
      const env = { HTTPS_PROXY: 'socks5://proxy.example:1080' };
      const serve = await herald(['--config', file], env);
      assert.equal(serve.code, 78, serve.stdout + serve.stderr);
      assert.equal(serve.stderr, `herald: invalid environment (not in ${file})\n  error: HTTPS_PROXY (environment variable): must be an http:// proxy URL (expected http://[user:pass@]host:port), got "socks5://proxy.example:1080"\n`);
      const check = await herald(['check-config', file], env);
      assert.equal(check.code, 78);
      assert.match(check.stderr, /^error: HTTPS_PROXY \(environment variable\): must be an http:\/\/ proxy URL/m);
    });
  });

  describe('send-test', () => {
    const config = "apps: {com.example.noop: {type: noop, reject_pushkeys: [dead-key]}}\n";

    it('reports a delivery', async () => {
      const run = await herald(['send-test', '--config', tempConfig(config), '--app-id', 'com.example.noop', '--pushkey', 'live-key']);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^result: {2}delivered$/m);
      assert.doesNotMatch(run.stdout, /live-key/, 'the pushkey is shown only as a hash');
    });

    it('reports a rejection and exits non-zero', async () => {
      const run = await herald(['send-test', '--config', tempConfig(config), '--app-id', 'com.example.noop', '--pushkey', 'dead-key', '--format', 'event_id_only']);
      assert.equal(run.code, 1);
      assert.match(run.stdout, /^result: {2}rejected \(listed in reject_pushkeys\)$/m);
      assert.match(run.stdout, /^format: {2}event_id_only$/m);
    });

    it('says when no app serves the app_id', async () => {
      const run = await herald(['send-test', '--config', tempConfig(config), '--app-id', 'com.example.typo', '--pushkey', 'k']);
      assert.equal(run.code, 1);
      assert.match(run.stdout, /^result: {2}rejected \(app_id com\.example\.typo matches no configured app\)$/m);
    });

    it('ends with a result and exit 78 on an invalid configuration', async () => {
      const run = await herald(['send-test', '--config', tempConfig('apps: {x: {type: nope}}\n'), '--app-id', 'x', '--pushkey', 'k']);
      assert.equal(run.code, 78);
      assert.match(run.stdout, /^result: {2}misconfigured/m);
      assert.match(run.stderr, /unknown pushkin type "nope"/);
    });
  });

  it('hash-pushkey prints the hash the logs use', async () => {
    const run = await herald(['hash-pushkey', 'some-pushkey']);
    assert.match(run.stdout, /^pk#[0-9a-f]{12}\n$/);
  });
});
