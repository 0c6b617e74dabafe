import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml, parseDocument } from 'yaml';
import { EXIT_CONFIG } from '../../src/cli/exit';
import { loadConfigText } from '../../src/config/config';
import { BUILTIN_PUSHKIN_TYPES } from '../../src/pushkins/registry';
import { EXIT_LISTEN_BUSY } from '../../src/util/listen';
import { tempDir } from '../upstreams/temp';

const ROOT = join(__dirname, '..', '..');
const run = promisify(execFile);

interface PackResult {
  filename: string;
  files: Array<{ path: string }>;
}

/** What the package ships: only what runs Herald, and what tells how to run it. */
const SHIPPED = [/^dist\/src\//, /^dist\/package\.json$/, /^openapi\//, /^config\.sample\.yaml$/, /^docs\//, /^README\.md$/, /^LICENSE$/, /^package\.json$/];

/** A failure of npm to reach the registry (no network and nothing in npm's cache). */
const OFFLINE = /ENOTCACHED|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ENETUNREACH/;

describe('the npm package', function () {
  this.timeout(300_000);

  it('packs only what runs Herald; package.json names no missing file', async () => {
    // --ignore-scripts: `npm test` has just built dist/ (prepare would build it again).
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT });
    const [pack] = JSON.parse(stdout) as PackResult[];
    const paths = (pack?.files ?? []).map((file) => file.path);
    for (const path of paths) assert.ok(SHIPPED.some((allowed) => allowed.test(path)), `${path} should not be in the package`);
    for (const needed of ['dist/src/main.js', 'dist/package.json', 'openapi/herald.yaml', 'config.sample.yaml', 'docs/operator-guide.md', 'docs/grafana/herald.json', 'README.md', 'LICENSE']) {
      assert.ok(paths.includes(needed), `${needed} is in the package`);
    }
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { main?: string; bin: Record<string, string>; scripts: Record<string, string> };
    if (manifest.main !== undefined) assert.ok(paths.includes(manifest.main), 'main is shipped');
    assert.ok(paths.includes(String(manifest.bin.herald)), 'the herald command is shipped');
    // The tarball ships dist/: installing it must run nothing (npm 11 warns about, and
    // does not run, scripts of a global install that were not allowed).
    for (const script of ['preinstall', 'install', 'postinstall', 'prepare']) assert.equal(manifest.scripts[script], undefined, `no ${script} script`);
    assert.equal(manifest.scripts.prepack, 'npm run build', 'npm pack builds dist/ first');
  });

  it('installs from the packed tarball; the herald command runs and checks the sample config', async function () {
    const dir = tempDir('pack');
    await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT });
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const tarball = join(dir, `herald-${version}.tgz`);
    const prefix = join(dir, 'prefix');
    // The operator guide's command, with a prefix of the test's own instead of the system's.
    assert.match(readFileSync(join(ROOT, 'docs', 'operator-guide.md'), 'utf8'), new RegExp(`^npm install --global herald-${version.replace(/\./g, '\\.')}\\.tgz `, 'm'));
    let installed;
    try {
      // The dependencies come from npm's cache when it has them, else from the registry.
      installed = await run('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--omit=dev', '--no-audit', '--no-fund', tarball], { cwd: dir });
    } catch (err) {
      if (OFFLINE.test(String((err as { stderr?: string }).stderr))) this.skip();
      throw err;
    }
    assert.doesNotMatch(installed.stderr, /install-scripts|prepare|allow-scripts/, 'no build step, and nothing for npm to warn about');
    const herald = join(prefix, 'bin', 'herald');
    assert.ok(existsSync(herald), 'npm linked the herald command');
    assert.equal((await run(herald, ['--version'], { cwd: dir })).stdout.trim(), version);
    // The sample config as an operator would copy it: from the installed package.
    const sample = join(prefix, 'lib', 'node_modules', 'herald', 'config.sample.yaml');
    const check = await run(herald, ['check-config', sample], { cwd: dir });
    assert.match(check.stdout, /: OK$/m);
  });

  it('the systemd unit in docs/operator-guide.md passes systemd-analyze verify', async function () {
    try {
      await run('systemd-analyze', ['--version']);
    } catch {
      this.skip();
    }
    const file = join(tempDir('systemd'), 'herald.service');
    writeFileSync(file, guideUnit());
    const { stdout, stderr } = await run('systemd-analyze', ['verify', file]);
    // verify exits 0 on unknown keys, only warning about them.
    assert.equal(stdout + stderr, '');
  });
});

/** The unit file of docs/operator-guide.md. */
function guideUnit(): string {
  const guide = readFileSync(join(ROOT, 'docs', 'operator-guide.md'), 'utf8');
  const unit = /```ini\n([\s\S]*?)```/.exec(guide)?.[1];
  assert.ok(unit, 'the guide has a unit file');
  return unit;
}

interface Unit {
  /** section → key → values, in order (a key may repeat). */
  readonly sections: Map<string, Map<string, string[]>>;
  /** The comment lines, joined. */
  readonly comments: string;
}

function parseUnit(text: string): Unit {
  const sections = new Map<string, Map<string, string[]>>();
  const comments: string[] = [];
  let current: Map<string, string[]> | undefined;
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (line === '') continue;
    if (line.startsWith('#') || line.startsWith(';')) comments.push(line.replace(/^[#;]\s?/, ''));
    else if (/^\[.+\]$/.test(line)) sections.set(line.slice(1, -1), (current = new Map()));
    else {
      const eq = line.indexOf('=');
      assert.ok(current && eq > 0, `a key=value line inside a section: ${line}`);
      const key = line.slice(0, eq);
      current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
    }
  }
  return { sections, comments: comments.join(' ') };
}

/** systemd's time span, in seconds (only the forms the guide may use: a number, or with s / min). */
function seconds(value: string): number {
  const match = /^(\d+)\s*(s|sec|min)?$/.exec(value.trim());
  assert.ok(match, `a time span: ${value}`);
  return Number(match[1]) * (match[2] === 'min' ? 60 : 1);
}

/**
 * What the unit's comments claim, checked against what systemd documents
 * (systemd.service(5), systemd.unit(5)) and against Herald's exit statuses.
 */
describe('the systemd unit in docs/operator-guide.md does what its comments say', () => {
  const unit = parseUnit(guideUnit());
  const get = (section: string, key: string): string | undefined => unit.sections.get(section)?.get(key)?.at(-1);

  it('a configuration error is not restarted: herald itself checks the file, and exits 78 from the main process', () => {
    assert.equal(get('Service', 'Restart'), 'on-failure');
    const prevented = (get('Service', 'RestartPreventExitStatus') ?? '').split(/\s+/);
    assert.ok(prevented.includes(String(EXIT_CONFIG)), 'RestartPreventExitStatus names EX_CONFIG');
    // systemd.service(5): RestartPreventExitStatus= is about the main process only; a
    // failing ExecStartPre= would be restarted every RestartSec.
    for (const key of ['ExecStartPre', 'ExecStartPost', 'ExecCondition']) assert.equal(get('Service', key), undefined, `no ${key}`);
    const execStart = get('Service', 'ExecStart') ?? '';
    assert.match(execStart, /\/dist\/src\/main\.js --config \S+$/, 'the main process is herald on the config file');
    assert.match(unit.comments, new RegExp(`Exit status ${EXIT_CONFIG} is a configuration error`));
  });

  it('a port in use (75) is restarted, but only until the start limit: the numbers in the comment, reachable at RestartSec', () => {
    const prevented = (get('Service', 'RestartPreventExitStatus') ?? '').split(/\s+/);
    assert.ok(!prevented.includes(String(EXIT_LISTEN_BUSY)));
    assert.match(unit.comments, new RegExp(`\\b${EXIT_LISTEN_BUSY} \\(a port in use\\)`));
    // systemd.unit(5): the start rate limit lives in [Unit], and counts automatic restarts.
    assert.equal(get('Service', 'StartLimitBurst'), undefined);
    assert.equal(get('Service', 'StartLimitIntervalSec'), undefined);
    const burst = Number(get('Unit', 'StartLimitBurst'));
    const interval = seconds(get('Unit', 'StartLimitIntervalSec') ?? '');
    const restartSec = seconds(get('Service', 'RestartSec') ?? '0');
    assert.ok(burst >= 1 && interval > 0);
    // Otherwise restarts are spaced too far apart ever to reach the limit, and loop forever.
    assert.ok(burst * restartSec < interval, `${burst} restarts ${restartSec} s apart fit in ${interval} s`);
    const claim = /past (\d+) in (\d+) s/.exec(unit.comments);
    assert.deepEqual([Number(claim?.[1]), Number(claim?.[2])], [burst, interval], 'the comment says the real numbers');
  });

  it('a stop lets requests finish: SIGTERM, with more time than http.shutdown_grace_ms; a reload is SIGHUP', () => {
    assert.equal(get('Service', 'KillSignal'), 'SIGTERM');
    const grace = loadConfigText('apps: {a: {type: noop}}', ROOT, BUILTIN_PUSHKIN_TYPES).config.http.shutdownGraceMs / 1000;
    assert.match(unit.comments, new RegExp(`http\\.shutdown_grace_ms, default ${grace} s`));
    assert.ok(seconds(get('Service', 'TimeoutStopSec') ?? '0') > grace);
    assert.equal(get('Service', 'ExecReload'), '/bin/kill -HUP $MAINPID');
    assert.equal(get('Service', 'Type'), 'simple');
  });
});

/** A command line of the docs, run by sh in `cwd`; resolves with its output, rejects on a non-zero exit. */
function sh(command: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  return run('sh', ['-c', command], { cwd, env, maxBuffer: 64 * 1024 * 1024 });
}

/** Starts a long-running docs command in a process group of its own (npm, sh and node), until its `herald is ready` line. */
async function serveUntilReady(command: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ ready: Record<string, unknown>; stop: () => Promise<string> }> {
  const child = spawn('sh', ['-c', command], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const look = (chunk: Buffer) => {
      output += chunk.toString();
      for (const line of output.split('\n')) {
        if (!line.startsWith('{')) continue;
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (parsed.msg === 'herald is ready') resolve(parsed);
      }
    };
    child.stdout.on('data', look);
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exited.then((code) => reject(new Error(`${command} exited ${code} before it was ready: ${output}`)));
  });
  return {
    ready,
    // SIGTERM to the whole group, as a terminal's Ctrl-C would; resolves with the output.
    stop: async () => {
      process.kill(-(child.pid ?? 0), 'SIGTERM');
      await exited;
      return output;
    },
  };
}

/** The lines of the first ```sh block after `heading` in `doc`, without comments or continuations. */
function shBlock(doc: string, heading: string): string[] {
  const from = doc.indexOf(heading);
  assert.ok(from >= 0, `${heading} is in the document`);
  const block = /```sh\n([\s\S]*?)```/.exec(doc.slice(from))?.[1] ?? '';
  return block
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter(Boolean);
}

describe('installing from a clone, as README.md and docs/operator-guide.md say', function () {
  // npm ci of every dependency (from npm's cache when it has them) and two builds.
  this.timeout(900_000);

  it('the guide\'s clone install, the README quick start, then "Using it" with npx herald and metrics', async function () {
    const dir = tempDir('clone');
    let files: string[];
    try {
      files = (await run('git', ['ls-files', '-z'], { cwd: ROOT })).stdout.split('\0').filter(Boolean);
    } catch {
      this.skip(); // not a git checkout: there is no clone to copy
    }
    // A clone of this working tree: the tracked files as they are now.
    for (const file of files.filter((f) => existsSync(join(ROOT, f)))) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      copyFileSync(join(ROOT, file), join(dir, file));
    }
    // Nothing listens on fixed ports in a test (the machine may run other Heralds).
    const samplePath = join(dir, 'config.sample.yaml');
    writeFileSync(samplePath, readFileSync(samplePath, 'utf8').replace('port: 5000', 'port: 0').replace('port: 8000', 'port: 0'));
    const env: NodeJS.ProcessEnv = { ...process.env, npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
    delete env.HERALD_CONFIG;
    delete env.SYGNAL_CONF;

    const guide = readFileSync(join(ROOT, 'docs', 'operator-guide.md'), 'utf8');
    const fromClone = shBlock(guide, 'From a clone:');
    assert.deepEqual(fromClone, ['npm ci && npm run build', 'node dist/src/main.js check-config /etc/herald/herald.yaml']);
    try {
      await sh(fromClone[0]!, dir, env);
    } catch (err) {
      if (OFFLINE.test(String((err as { stderr?: string }).stderr))) this.skip();
      throw err;
    }
    const checked = await sh(fromClone[1]!.replace('/etc/herald/herald.yaml', 'config.sample.yaml'), dir, env);
    assert.match(checked.stdout, /: OK$/m);

    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const quickStart = shBlock(readme, '## Quick start');
    assert.equal(quickStart[0], 'npm install && npm start');
    await sh('npm install', dir, env);
    const started = await serveUntilReady('npm start', dir, env);
    const health = await fetch(`http://${(started.ready.listen as string[])[0]}/health`);
    assert.match(await health.text(), /^OK, herald /);
    assert.match(await started.stop(), /"msg":"stopped"/, 'herald finished its requests and stopped');

    const usingIt = shBlock(readme, '## Using it');
    assert.deepEqual(usingIt.slice(0, 3), ['cp config.sample.yaml herald.yaml', 'npx herald check-config herald.yaml', 'npx herald --config herald.yaml']);
    await sh(usingIt[0]!, dir, env);
    assert.match((await sh(usingIt[1]!, dir, env)).stdout, /: OK$/m);
    const hashLine = usingIt.find((line) => line.startsWith('npx herald hash-pushkey'));
    assert.match((await sh(hashLine!.replace('<pushkey>', 'a-pushkey'), dir, env)).stdout, /^\S+\n$/);
    // The README's metrics settings, as an operator would paste them into herald.yaml.
    const metricsYaml = /```yaml\n(metrics:[\s\S]*?)```/.exec(readme.slice(readme.indexOf('## Using it')))?.[1];
    assert.ok(metricsYaml, 'README shows how to turn metrics on');
    const settings = parseYaml(metricsYaml) as { metrics: { prometheus: Record<string, unknown> } };
    assert.equal(settings.metrics.prometheus.enabled, true);
    const document = parseDocument(readFileSync(join(dir, 'herald.yaml'), 'utf8'));
    document.setIn(['metrics', 'prometheus'], { ...settings.metrics.prometheus, port: 0 });
    writeFileSync(join(dir, 'herald.yaml'), document.toString());
    const serving = await serveUntilReady(usingIt[2]!, dir, env);
    const metrics = await fetch(String(serving.ready.metrics));
    assert.match(await metrics.text(), /^sygnal_notifications_received_total 0$/m);
    assert.match(await serving.stop(), /"msg":"stopped"/);
  });
});
