import assert from 'node:assert/strict';
import { HostMemory } from '../../../../src/pushkins/unifiedpush/memory';
import type { Clock } from '../../../../src/util/clock';

describe('pushkins/unifiedpush/memory', () => {
  let now = 1_000_000;
  const clock: Clock = { now: () => now, sleep: () => Promise.resolve() };

  it('remembers a refused host for refusedMs', () => {
    const memory = new HostMemory(clock, 600_000, 60_000);
    memory.refused('ntfy.example.org', 'unreachable', 'no such host');
    assert.deepEqual(memory.recall('ntfy.example.org'), { kind: 'refused', refusal: 'unreachable', reason: 'no such host' });
    assert.equal(memory.recall('other.example.org'), undefined);
    now += 599_999;
    assert.equal(memory.recall('ntfy.example.org')?.kind, 'refused');
    now += 1;
    assert.equal(memory.recall('ntfy.example.org'), undefined);
  });

  it('remembers an unavailable host for unavailableMs, or a shorter Retry-After, with the time left', () => {
    const memory = new HostMemory(clock, 600_000, 60_000);
    memory.unavailable('a.example', '503', undefined);
    memory.unavailable('b.example', '429', 5_000);
    memory.unavailable('c.example', '429', 3_600_000);
    now += 1_000;
    assert.deepEqual(memory.recall('a.example'), { kind: 'unavailable', reason: '503', retryAfterMs: 59_000 });
    assert.deepEqual(memory.recall('b.example'), { kind: 'unavailable', reason: '429', retryAfterMs: 4_000 });
    assert.deepEqual(memory.recall('c.example'), { kind: 'unavailable', reason: '429', retryAfterMs: 59_000 });
    memory.forget('a.example');
    assert.equal(memory.recall('a.example'), undefined);
  });

  it('remembers nothing with durations of 0', () => {
    const memory = new HostMemory(clock, 0, 0);
    memory.refused('a.example', 'private_address', 'private');
    memory.unavailable('b.example', '503', undefined);
    assert.equal(memory.recall('a.example'), undefined);
    assert.equal(memory.recall('b.example'), undefined);
  });
});
