import assert from 'node:assert/strict';
import { Metrics } from '../../../src/metrics/metrics';
import type { Device, Notification } from '../../../src/notification/types';
import { InflightLimitedPushkin } from '../../../src/pushkins/limit';
import type { DispatchContext, DispatchOutcome, Pushkin, SendCapacity } from '../../../src/pushkins/pushkin';
import { createLogger } from '../../../src/util/log';

const APP = 'com.example.app';

/** A platform whose sends finish only when the test says so, recording the order they started in. */
class HeldPlatform implements Pushkin {
  readonly name = APP;
  readonly type = 'held';
  readonly started: string[] = [];
  private readonly finishers = new Map<string, () => void>();

  constructor(readonly sends?: SendCapacity) {}

  dispatch(_notification: Notification, device: Device): Promise<DispatchOutcome> {
    this.started.push(device.pushkey);
    return new Promise((resolve) => this.finishers.set(device.pushkey, () => resolve({ kind: 'delivered' })));
  }

  finish(pushkey: string): void {
    const finish = this.finishers.get(pushkey);
    assert.ok(finish, `${pushkey} was not sent`);
    this.finishers.delete(pushkey);
    finish();
  }

  async close(): Promise<void> {}
}

const notification = { devices: [] } as unknown as Notification;
const log = createLogger('silent');

function device(pushkey: string): Device {
  return { app_id: APP, pushkey } as Device;
}

function context(controller = new AbortController()): DispatchContext {
  return { log, deadline: Date.now() + 60_000, signal: controller.signal };
}

/** Lets promise callbacks run (hand-overs resolve through a few microtasks). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

async function value(metrics: Metrics, name: string): Promise<number> {
  const found = (await metrics.registry.getSingleMetric(name)?.get())?.values.find((v) => v.labels.pushkin === APP && !('le' in v.labels));
  return found?.value ?? 0;
}

describe('pushkins/limit', () => {
  it('queues devices past the limit and starts them first come, first served as slots free', async () => {
    const metrics = new Metrics();
    const platform = new HeldPlatform();
    const limited = new InflightLimitedPushkin(platform, 2, 10, metrics);
    const sends = ['a', 'b', 'c', 'd', 'e'].map((key) => limited.dispatch(notification, device(key), context()));
    await settle();
    assert.deepEqual(platform.started, ['a', 'b']);
    assert.equal(await value(metrics, 'herald_inflight_queued_devices'), 3);

    platform.finish('b');
    await settle();
    // A newcomer does not overtake the devices already waiting.
    const late = limited.dispatch(notification, device('f'), context());
    await settle();
    assert.deepEqual(platform.started, ['a', 'b', 'c']);
    for (const key of ['a', 'c', 'd', 'e']) {
      platform.finish(key);
      await settle();
    }
    platform.finish('f');
    assert.deepEqual(platform.started, ['a', 'b', 'c', 'd', 'e', 'f']);
    for (const outcome of await Promise.all([...sends, late])) assert.equal(outcome.kind, 'delivered');
    assert.equal(await value(metrics, 'herald_inflight_queued_devices'), 0);
    assert.equal(await value(metrics, 'sygnal_inflight_request_limit_drop_total'), 0);
    const waits = (await metrics.registry.getSingleMetric('herald_inflight_queue_time_seconds')?.get())?.values.find(
      (v) => (v as { metricName?: string }).metricName === 'herald_inflight_queue_time_seconds_count',
    );
    assert.equal(waits?.value, 4, 'c, d, e and f waited');
  });

  it('answers retry at once when queue_limit devices are already waiting', async () => {
    const metrics = new Metrics();
    const platform = new HeldPlatform();
    const limited = new InflightLimitedPushkin(platform, 1, 1, metrics);
    const first = limited.dispatch(notification, device('a'), context());
    const waiting = limited.dispatch(notification, device('b'), context());
    const outcome = await limited.dispatch(notification, device('c'), context());
    assert.equal(outcome.kind, 'retry');
    assert.match(outcome.kind === 'retry' ? outcome.reason : '', /1 devices already waiting/);
    assert.equal(await value(metrics, 'sygnal_inflight_request_limit_drop_total'), 1);

    platform.finish('a');
    await settle();
    platform.finish('b');
    assert.deepEqual([(await first).kind, (await waiting).kind], ['delivered', 'delivered']);
    assert.deepEqual(platform.started, ['a', 'b']);
  });

  it('with a queue limit of 0, turns devices away as soon as the limit is reached', async () => {
    const metrics = new Metrics();
    const platform = new HeldPlatform();
    const limited = new InflightLimitedPushkin(platform, 1, 0, metrics);
    const first = limited.dispatch(notification, device('a'), context());
    const turnedAway = await limited.dispatch(notification, device('b'), context());
    assert.equal(turnedAway.kind, 'retry');
    assert.match(turnedAway.kind === 'retry' ? turnedAway.reason : '', /0 devices already waiting/);
    assert.equal(await value(metrics, 'sygnal_inflight_request_limit_drop_total'), 1);
    assert.equal(await value(metrics, 'herald_inflight_queued_devices'), 0);
    platform.finish('a');
    assert.equal((await first).kind, 'delivered');
    assert.deepEqual(platform.started, ['a']);
  });

  it("answers retry for the devices still waiting when their request's deadline passes, and frees their places", async () => {
    const metrics = new Metrics();
    const platform = new HeldPlatform();
    const limited = new InflightLimitedPushkin(platform, 1, 2, metrics);
    const first = limited.dispatch(notification, device('a'), context());
    const expiring = new AbortController();
    const waiters = ['b', 'c'].map((key) => limited.dispatch(notification, device(key), context(expiring)));
    await settle();
    assert.equal(await value(metrics, 'herald_inflight_queued_devices'), 2);

    expiring.abort();
    for (const outcome of await Promise.all(waiters)) {
      assert.equal(outcome.kind, 'retry');
      assert.match(outcome.kind === 'retry' ? outcome.reason : '', /no slot before the deadline/);
    }
    assert.equal(await value(metrics, 'sygnal_inflight_request_limit_drop_total'), 2);
    assert.equal(await value(metrics, 'herald_inflight_queued_devices'), 0);

    // Their places are free again, and the slot goes to the next live waiter.
    const next = ['d', 'e'].map((key) => limited.dispatch(notification, device(key), context()));
    await settle();
    platform.finish('a');
    await settle();
    platform.finish('d');
    await settle();
    platform.finish('e');
    assert.deepEqual((await Promise.all([first, ...next])).map((o) => o.kind), ['delivered', 'delivered', 'delivered']);
    assert.deepEqual(platform.started, ['a', 'd', 'e']);
  });

  it('answers retry at once for a device whose deadline has already passed', async () => {
    const metrics = new Metrics();
    const platform = new HeldPlatform();
    const limited = new InflightLimitedPushkin(platform, 1, 10, metrics);
    const first = limited.dispatch(notification, device('a'), context());
    const expired = new AbortController();
    expired.abort();
    const late = await limited.dispatch(notification, device('b'), context(expired));
    assert.equal(late.kind, 'retry');
    assert.match(late.kind === 'retry' ? late.reason : '', /no slot before the deadline/);
    assert.equal(await value(metrics, 'sygnal_inflight_request_limit_drop_total'), 1);
    assert.equal(await value(metrics, 'herald_inflight_queued_devices'), 0);
    platform.finish('a');
    assert.equal((await first).kind, 'delivered');
    assert.deepEqual(platform.started, ['a']);
  });

  it("caps the sends in flight at the pushkin's connection capacity when it is below the limit, measured in Sygnal's series", async () => {
    const metrics = new Metrics();
    const platform = new HeldPlatform({ capacity: 1, pending: metrics.pendingGcmRequests, queueTime: metrics.gcmQueueTime });
    const limited = new InflightLimitedPushkin(platform, 512, 10, metrics);
    const sends = ['a', 'b'].map((key) => limited.dispatch(notification, device(key), context()));
    await settle();
    assert.deepEqual(platform.started, ['a'], 'b waits in the one queue, not in a connection pool');
    assert.equal((await metrics.registry.getSingleMetric('sygnal_pending_gcm_requests')?.get())?.values[0]?.value, 1);
    platform.finish('a');
    await settle();
    platform.finish('b');
    assert.deepEqual((await Promise.all(sends)).map((o) => o.kind), ['delivered', 'delivered']);
    const series = (await metrics.registry.getSingleMetric('sygnal_gcm_queue_time')?.get())?.values ?? [];
    assert.equal(series.find((v) => (v as { metricName?: string }).metricName === 'sygnal_gcm_queue_time_count')?.value, 2, 'both sends observed');
    assert.equal((await metrics.registry.getSingleMetric('sygnal_pending_gcm_requests')?.get())?.values[0]?.value, 0);
  });

  it('turns the devices still waiting away when it closes', async () => {
    const metrics = new Metrics();
    const platform = new HeldPlatform();
    const limited = new InflightLimitedPushkin(platform, 1, 10, metrics);
    const first = limited.dispatch(notification, device('a'), context());
    const waiting = limited.dispatch(notification, device('b'), context());
    await settle();
    const closed = limited.close();
    assert.equal((await waiting).kind, 'retry');
    platform.finish('a');
    assert.equal((await first).kind, 'delivered');
    await closed;
    assert.deepEqual(platform.started, ['a']);
  });
});
