import assert from 'node:assert/strict';
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { bindToResource } from '../../../src/util/async-resource-bind';

describe('util/async-resource-bind', () => {
  const storage = new AsyncLocalStorage<string>();

  it('runs the bound function in the async context it was bound in, whatever runs it later', async () => {
    const bound = storage.run('bound here', () => bindToResource(new AsyncResource('test'), () => storage.getStore()));
    assert.equal(storage.run('caller', bound), 'bound here');
    const later = await new Promise((resolve) => setImmediate(() => resolve(bound())));
    assert.equal(later, 'bound here');
  });

  it('passes the arguments and `this` as Node does: the caller\'s this, or thisArg when given', () => {
    function describe(this: unknown, ...args: unknown[]): [unknown, unknown[]] {
      return [this, args];
    }
    const receiver = { name: 'receiver' };
    const callerThis = bindToResource(new AsyncResource('test'), describe);
    assert.deepEqual(callerThis.call(receiver, 1, 'two', 3), [receiver, [1, 'two', 3]]);
    const fixedThis = bindToResource(new AsyncResource('test'), describe, receiver);
    assert.deepEqual(fixedThis.call({ other: true }, 'x'), [receiver, ['x']]);
  });

  it('keeps the function\'s length (Express tells error handlers by it) and exposes asyncResource', () => {
    const resource = new AsyncResource('test');
    const lengths = [() => 0, (_a: number) => 0, (_a: number, _b: number) => 0, (_a: number, _b: number, _c: number, _d: number) => 0];
    for (const fn of lengths) assert.equal(bindToResource(resource, fn).length, fn.length);
    const six = (_a: number, _b: number, _c: number, _d: number, _e: number, _f: number) => 0;
    assert.equal(bindToResource(resource, six).length, 6);
    assert.equal((bindToResource(resource, () => 0) as unknown as { asyncResource: AsyncResource }).asyncResource, resource);
  });

  it('returns what the function returns and lets its exceptions through', () => {
    const resource = new AsyncResource('test');
    assert.equal(bindToResource(resource, (a: number, b: number) => a + b)(2, 3), 5);
    assert.throws(() => bindToResource(resource, () => {
      throw new Error('inside');
    })(), /inside/);
  });

  it('refuses a non-function with Node\'s error code', () => {
    assert.throws(() => bindToResource(new AsyncResource('test'), 42 as unknown as () => void), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  });
});
