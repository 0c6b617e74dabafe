import assert from 'node:assert/strict';
import { flagsToAdd, startsGateway } from '../../../src/cli/v8-flags';

describe('cli/v8-flags', () => {
  const defaults = ['--max-semi-space-size=4', '--heap-growing-percent=100'];
  const cases: ReadonlyArray<readonly [string, string | undefined, readonly string[], readonly string[]]> = [
    ['none set: all of them', undefined, [], defaults],
    ['empty NODE_OPTIONS', '', [], defaults],
    ["the operator's NODE_OPTIONS wins", '--max-semi-space-size=16', [], ['--heap-growing-percent=100']],
    ["V8's underscore spelling counts too", '--inspect --heap_growing_percent=100', [], ['--max-semi-space-size=4']],
    ["node's own command line wins", undefined, ['--max-semi-space-size=8', '--heap-growing-percent=50'], []],
    ['unrelated flags change nothing', '--enable-source-maps', ['--cpu-prof'], defaults],
    ['a value alone is not a flag', 'max-semi-space-size', [], defaults],
  ];
  for (const [name, nodeOptions, execArgv, expected] of cases) {
    it(name, () => assert.deepEqual(flagsToAdd(defaults, nodeOptions, execArgv), expected));
  }

  it('re-executes only to serve: the one-shot commands start once', () => {
    assert.equal(startsGateway([]), true);
    assert.equal(startsGateway(['--config', 'herald.yaml']), true);
    assert.equal(startsGateway(['check-config', 'herald.yaml']), false);
    assert.equal(startsGateway(['--version']), false);
  });
});
