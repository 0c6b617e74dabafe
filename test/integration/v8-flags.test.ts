import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { HERALD_V8_FLAGS } from '../../src/cli/v8-flags';
import { HeraldProcess } from '../helpers/process';

/** The node flags the running process was started with (Linux's /proc), up to the script. */
function nodeFlags(pid: number): string[] {
  const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  return args.slice(1, args.findIndex((a) => a.endsWith('main.js')));
}

const CONFIG = "http: {port: 0}\napps: {com.example.a: {type: noop}}\n";
// Without process.execve (Node before 22.15) Herald runs with V8's defaults.
const canReexec = typeof (process as { execve?: unknown }).execve === 'function';

describe('herald applies its V8 settings itself', function () {
  this.timeout(60_000);

  it(canReexec ? 'runs with them, in the same process' : 'runs without them on this runtime', async () => {
    const herald = HeraldProcess.withConfig(CONFIG, { NODE_OPTIONS: '' });
    try {
      await herald.url();
      assert.deepEqual(nodeFlags(herald.pid), canReexec ? [...HERALD_V8_FLAGS] : []);
    } finally {
      await herald.stop();
    }
  });

  it("leaves a flag the operator's NODE_OPTIONS sets to the operator", async () => {
    const herald = HeraldProcess.withConfig(CONFIG, { NODE_OPTIONS: '--max-semi-space-size=16' });
    try {
      await herald.url();
      const flags = nodeFlags(herald.pid);
      assert.ok(!flags.some((f) => f.startsWith('--max-semi-space-size')), flags.join(' '));
      assert.deepEqual(flags, canReexec ? HERALD_V8_FLAGS.filter((f) => !f.startsWith('--max-semi-space-size')) : []);
    } finally {
      await herald.stop();
    }
  });
});
