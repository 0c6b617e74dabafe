import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
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
    assert.equal(manifest.scripts.prepare, 'npm run build', 'installing from git builds dist/');
  });

  it('installs from the packed tarball; the herald command runs and checks the sample config', async function () {
    const dir = tempDir('pack');
    await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT });
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const tarball = join(dir, `herald-${version}.tgz`);
    const prefix = join(dir, 'prefix');
    try {
      // The dependencies come from npm's cache when it has them, else from the registry.
      await run('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--omit=dev', '--no-audit', '--no-fund', tarball], { cwd: dir });
    } catch (err) {
      if (OFFLINE.test(String((err as { stderr?: string }).stderr))) this.skip();
      throw err;
    }
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
    const guide = readFileSync(join(ROOT, 'docs', 'operator-guide.md'), 'utf8');
    const unit = /```ini\n([\s\S]*?)```/.exec(guide)?.[1];
    assert.ok(unit, 'the guide has a unit file');
    const file = join(tempDir('systemd'), 'herald.service');
    writeFileSync(file, unit);
    const { stdout, stderr } = await run('systemd-analyze', ['verify', file]);
    // verify exits 0 on unknown keys, only warning about them.
    assert.equal(stdout + stderr, '');
  });
});
