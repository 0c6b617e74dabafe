import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configPath } from '../../src/cli/index';
import { HeraldProcess } from '../helpers/process';
import { tempDir } from '../upstreams/temp';

/**
 * Where the built herald reads its configuration: --config, then $HERALD_CONFIG, then
 * Sygnal's $SYGNAL_CONF, then ./herald.yaml. Each file serves a differently named app,
 * so the ready line says which file was read.
 */
describe('configuration file location', function () {
  this.timeout(30_000);
  let herald: HeraldProcess | undefined;
  afterEach(async () => {
    await herald?.stop();
    herald = undefined;
  });

  function configFor(app: string): string {
    const file = join(tempDir('location'), `${app}.yaml`);
    writeFileSync(file, `http: {port: 0}\napps: {${app}: {type: noop}}\n`);
    return file;
  }

  async function appsServed(args: string[], env: Record<string, string>): Promise<unknown> {
    // Unset unless the test sets them: the test runner's own environment must not choose.
    herald = new HeraldProcess(args, { HERALD_CONFIG: '', SYGNAL_CONF: '', ...env });
    return (await herald.waitFor('herald is ready')).apps;
  }

  it("starts from Sygnal's $SYGNAL_CONF alone", async () => {
    assert.deepEqual(await appsServed([], { SYGNAL_CONF: configFor('from-sygnal-conf') }), ['from-sygnal-conf (noop)']);
  });

  it('prefers $HERALD_CONFIG to $SYGNAL_CONF, and --config to both', async () => {
    const env = { HERALD_CONFIG: configFor('from-herald-config'), SYGNAL_CONF: configFor('from-sygnal-conf') };
    assert.deepEqual(await appsServed([], env), ['from-herald-config (noop)']);
    await herald?.stop();
    assert.deepEqual(await appsServed(['--config', configFor('from-option')], env), ['from-option (noop)']);
  });

  it('falls back to ./herald.yaml, treating empty variables as unset', () => {
    assert.equal(configPath(undefined, { HERALD_CONFIG: '', SYGNAL_CONF: '' }), 'herald.yaml');
    assert.equal(configPath(undefined, { HERALD_CONFIG: '', SYGNAL_CONF: '/etc/sygnal/sygnal.yaml' }), '/etc/sygnal/sygnal.yaml');
  });
});
