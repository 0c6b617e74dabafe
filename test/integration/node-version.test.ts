import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../upstreams/temp';

const ROOT = join(__dirname, '..', '..');
/** The built CLI, as installed (`npm test` builds first). */
const HERALD_BIN = join(ROOT, 'dist', 'src', 'main.js');
const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

/** The line a too-old Node gets from `herald` (and so from `npm start`). */
const tooOld = (nodeVersion: string): string => `herald: Node.js 22 or later is needed (22, 24 and 26 are supported); this is Node.js v${nodeVersion}\n`;

/** Environment for a child Node that reports `nodeVersion` as its own (a --require preload). */
function nodeReporting(nodeVersion: string): NodeJS.ProcessEnv {
  const preload = join(tempDir('node-version'), 'preload.cjs');
  writeFileSync(preload, [
    `Object.defineProperty(process.versions, 'node', { value: ${JSON.stringify(nodeVersion)} });`,
    `Object.defineProperty(process, 'version', { value: ${JSON.stringify(`v${nodeVersion}`)} });`,
  ].join('\n'));
  return { ...process.env, NODE_OPTIONS: `--require=${preload}` };
}

function herald(nodeVersion: string): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [HERALD_BIN, '--version'], { cwd: ROOT, env: nodeReporting(nodeVersion), encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('a Node.js too old for Herald', function () {
  this.timeout(60_000);

  it('herald says in one line which Node it needs, and exits 1', () => {
    for (const old of ['18.20.4', '20.18.3']) assert.deepEqual(herald(old), { code: 1, stdout: '', stderr: tooOld(old) });
  });

  it('Node 20.19 and the supported lines start', () => {
    for (const ok of ['20.19.0', '22.12.0', '24.0.0', '26.1.0']) {
      assert.deepEqual(herald(ok), { code: 0, stdout: `${version}\n`, stderr: '' }, `herald on ${ok}`);
    }
  });
});
