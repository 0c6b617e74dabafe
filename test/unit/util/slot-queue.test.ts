import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { SlotQueue, type SlotWait } from '../../../src/util/slot-queue';

/** Records the order waits end in, with how each ended. */
function track(queue: SlotQueue, name: string, signal: AbortSignal, ended: string[]): Promise<SlotWait> {
  return queue.acquire(signal).then((wait) => {
    ended.push(`${name}:${wait.outcome}`);
    return wait;
  });
}

/** Lets promise callbacks run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('util/slot-queue', () => {
  it('grants free slots at once, then serves waiters first come, first served', async () => {
    const slots = new SlotQueue(2);
    const signal = new AbortController().signal;
    const ended: string[] = [];
    const first = await slots.acquire(signal);
    assert.deepEqual(first, { outcome: 'granted', queued: false, waitedMs: 0 });
    assert.equal(slots.tryAcquire(), true);
    assert.equal(slots.tryAcquire(), false);
    const waits = ['c', 'd', 'e'].map((name) => track(slots, name, signal, ended));
    assert.equal(slots.waiting, 3);

    slots.release();
    await settle();
    assert.deepEqual(ended, ['c:granted']);
    // A slot freed goes to the oldest waiter, not to a newcomer.
    assert.equal(slots.tryAcquire(), false);
    slots.release();
    slots.release();
    await settle();
    assert.deepEqual(ended, ['c:granted', 'd:granted', 'e:granted']);
    for (const wait of await Promise.all(waits)) {
      assert.equal(wait.queued, true);
      assert.ok(wait.waitedMs >= 0);
    }
    assert.equal(slots.waiting, 0);
  });

  it('turns away the waiters of an aborted signal, with one listener per signal, and skips them on release', async () => {
    const slots = new SlotQueue(1);
    assert.equal(slots.tryAcquire(), true);
    const doomed = new AbortController();
    const ended: string[] = [];
    const kept = new AbortController().signal;
    const waits = [
      track(slots, 'a', doomed.signal, ended),
      track(slots, 'b', doomed.signal, ended),
      track(slots, 'c', kept, ended),
      track(slots, 'd', doomed.signal, ended),
    ];
    assert.equal(getEventListeners(doomed.signal, 'abort').length, 1);
    doomed.abort();
    await settle();
    assert.deepEqual(ended, ['a:aborted', 'b:aborted', 'd:aborted']);
    assert.equal(slots.waiting, 1);

    slots.release();
    await settle();
    assert.deepEqual(ended, ['a:aborted', 'b:aborted', 'd:aborted', 'c:granted']);
    slots.release();
    // The slot is free again: nothing was leaked to the waiters that gave up.
    assert.equal(slots.tryAcquire(), true);
    assert.equal((await waits[0]).queued, true);
  });

  it('answers aborted at once for a signal already aborted, even with a slot free', async () => {
    const slots = new SlotQueue(1);
    assert.deepEqual(await slots.acquire(AbortSignal.abort()), { outcome: 'aborted', queued: false, waitedMs: 0 });
    assert.equal(slots.tryAcquire(), true, 'the slot was not taken');
  });

  it('answers full past the queue bound without queueing', async () => {
    const slots = new SlotQueue(1, 2);
    const signal = new AbortController().signal;
    assert.equal(slots.tryAcquire(), true);
    const ended: string[] = [];
    const waits = [track(slots, 'a', signal, ended), track(slots, 'b', signal, ended)];
    assert.deepEqual(await slots.acquire(signal), { outcome: 'full', queued: false, waitedMs: 0 });
    assert.equal(slots.waiting, 2);
    slots.release();
    slots.release();
    await Promise.all(waits);
    assert.deepEqual(ended, ['a:granted', 'b:granted']);
  });

  it('close turns every waiter away; slots held stay held', async () => {
    const slots = new SlotQueue(1);
    const signal = new AbortController().signal;
    assert.equal(slots.tryAcquire(), true);
    const ended: string[] = [];
    const waits = [track(slots, 'a', signal, ended), track(slots, 'b', signal, ended)];
    slots.close();
    await Promise.all(waits);
    assert.deepEqual(ended, ['a:closed', 'b:closed']);
    assert.equal(slots.waiting, 0);
    assert.equal(slots.tryAcquire(), false);
    slots.release();
    assert.equal(slots.tryAcquire(), true);
  });

  it('keeps FIFO order and frees every slot through many aborts and hand-overs', async () => {
    const slots = new SlotQueue(3);
    for (let i = 0; i < 3; i++) assert.equal(slots.tryAcquire(), true);
    const controllers = Array.from({ length: 50 }, () => new AbortController());
    const granted: number[] = [];
    const waits = Array.from({ length: 5000 }, (_, i) =>
      slots.acquire(controllers[i % 50].signal).then((wait) => {
        if (wait.outcome === 'granted') granted.push(i);
        return wait;
      }),
    );
    // Every other signal aborts: its waiters leave and the rest keep their order.
    for (let c = 0; c < 50; c += 2) controllers[c].abort();
    assert.equal(slots.waiting, 2500);
    for (let i = 0; i < 2500; i++) slots.release();
    await Promise.all(waits);
    assert.equal(granted.length, 2500);
    assert.ok(granted.every((i, k) => i % 2 === 1 && (k === 0 || granted[k - 1] < i)));
    for (let i = 0; i < 3; i++) slots.release();
    for (let i = 0; i < 3; i++) assert.equal(slots.tryAcquire(), true);
    assert.equal(slots.tryAcquire(), false);
  });
});
