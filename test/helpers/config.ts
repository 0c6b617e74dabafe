import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/section';

/** The problem lines of the ConfigError that `load` throws; fails the test if it loads. */
export function configProblems(load: () => unknown): readonly string[] {
  try {
    load();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}
