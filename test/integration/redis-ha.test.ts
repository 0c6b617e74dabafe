import assert from 'node:assert/strict';
import { APP, ApnsHarness, device } from '../helpers/apns-harness';
import type { ApnsMock } from '../upstreams/apns-mock';
import { notifyBody } from '../helpers/gateway';
import { HeraldProcess } from '../helpers/process';
import { ask, RedisClusterGroup, RedisSentinelGroup, SENTINEL_MASTER, until, within } from '../helpers/redis-ha';
import { deliveryKey, rejectionKey } from '../../src/store/store';

/**
 * Highly available Redis behind two Herald instances (the built CLI): Sentinel through a
 * primary's crash, and a Cluster with the devices' keys on different primaries; a mock
 * APNs counts what reaches the platform.
 */

const KEY_PREFIX = 'ha:';

interface Running {
  readonly herald: HeraldProcess;
  readonly url: string;
  readonly metrics: string;
}

async function startHerald(processes: HeraldProcess[], store: Record<string, unknown>, app: Record<string, unknown>, http: Record<string, unknown> = {}): Promise<Running> {
  const config = {
    http: { port: 0, ...http },
    metrics: { prometheus: { enabled: true, port: 0 } },
    store: { type: 'redis', key_prefix: KEY_PREFIX, ...store },
    apps: { [APP]: app },
  };
  const herald = HeraldProcess.withConfig(JSON.stringify(config)); // JSON is YAML
  processes.push(herald);
  // Generous: several processes start at once on a busy machine.
  const { url, metrics } = await herald.listening(60_000);
  return { herald, url, metrics };
}

async function notify(url: string, eventId: string, pushkey: string): Promise<{ status: number; rejected: string[] }> {
  const response = await fetch(`${url}/_matrix/push/v1/notify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(notifyBody({ event_id: eventId }, { app_id: APP, pushkey })),
  });
  const body = (await response.json()) as { rejected?: string[] };
  return { status: response.status, rejected: body.rejected ?? [] };
}

async function health(url: string): Promise<string> {
  return (await fetch(`${url}/health`)).text();
}

/** herald_store_errors_total, all operations added up. */
async function storeErrors(metrics: string): Promise<number> {
  const text = await (await fetch(metrics)).text();
  return [...text.matchAll(/^herald_store_errors_total\{[^}]*\} (\d+)$/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
}

/** /health's body with a healthy store: "OK, herald <version>", nothing more. */
const HEALTHY = /^OK, herald [^;]+$/;

/** A dead device found by one instance is answered rejected by the other, which does not send. */
async function assertRejectionShared(mock: ApnsMock, a: Running, b: Running, label: string): Promise<void> {
  const dead = device(label);
  mock.script(dead.hex, { status: 410, reason: 'Unregistered' });
  assert.deepEqual(await notify(a.url, `$${label}-1:example.org`, dead.pushkey), { status: 200, rejected: [dead.pushkey] });
  assert.deepEqual(await notify(b.url, `$${label}-2:example.org`, dead.pushkey), { status: 200, rejected: [dead.pushkey] });
  assert.equal(mock.requestsFor(dead.hex).length, 1, `${label}: the other instance answered from the shared memory`);
}

/** A retry on the other instance is de-duplicated. */
async function assertDedupShared(mock: ApnsMock, a: Running, b: Running, label: string): Promise<void> {
  const phone = device(label);
  assert.deepEqual(await notify(a.url, `$${label}:example.org`, phone.pushkey), { status: 200, rejected: [] });
  assert.deepEqual(await notify(b.url, `$${label}:example.org`, phone.pushkey), { status: 200, rejected: [] });
  assert.equal(mock.requestsFor(phone.hex).length, 1, `${label}: one notification on the phone`);
}

describe('shared store in Redis Sentinel: the failover drill', function () {
  this.timeout(300_000);
  let group: RedisSentinelGroup;
  let h: ApnsHarness;
  let mock: ApnsMock;
  const processes: HeraldProcess[] = [];

  before(async () => {
    // Short, so the drill is quick; nothing below depends on how long the failover takes.
    group = await RedisSentinelGroup.start({ downAfterMs: 2_000, password: 'data-secret', sentinelPassword: 'sentinel-secret' });
    h = new ApnsHarness();
    mock = await h.mock();
  });
  after(async () => {
    for (const herald of processes.splice(0)) assert.equal(await herald.stop(), 0, herald.stderr);
    await h?.close();
    await group?.stop();
  });

  it('keeps delivering through a crash of the primary, and shares its memory again after the promotion', async () => {
    const store = {
      sentinel: { name: SENTINEL_MASTER, nodes: group.nodes, password: 'data-secret', sentinel_password: 'sentinel-secret' },
      // Generous for a busy machine, short next to the failover.
      timeout_ms: 500,
    };
    const app = h.tokenApp(mock);
    // A retry waiting on a claim its holder could not settle during the failover gives up
    // (502, the homeserver retries later) at this deadline rather than the default 20 s.
    const [a, b] = [await startHerald(processes, store, app, { notify_deadline_ms: 3_000 }), await startHerald(processes, store, app, { notify_deadline_ms: 3_000 })];
    for (const instance of [a, b]) assert.match(await health(instance.url), HEALTHY);
    await assertDedupShared(mock, a, b, 'sentinel-before');
    await assertRejectionShared(mock, a, b, 'sentinel-dead-before');

    /**
     * The traffic: event i for device i sent to one instance, then its retry to the other
     * (a homeserver's retry landing elsewhere). Before and after the failover the retry is
     * de-duplicated: one upstream send per device.
     */
    interface Pair {
      readonly i: number;
      readonly start: number;
      end: number;
      readonly hex: string;
      readonly statuses: number[];
    }
    const pairs: Pair[] = [];
    let stop = false;
    const traffic = (async () => {
      for (let i = 0; !stop; i++) {
        const phone = device(`drill-${i}`);
        const pair: Pair = { i, start: Date.now(), end: 0, hex: phone.hex, statuses: [] };
        pairs.push(pair);
        const [first, second] = i % 2 === 0 ? [a, b] : [b, a];
        pair.statuses.push((await notify(first.url, `$drill-${i}:example.org`, phone.pushkey)).status);
        pair.statuses.push((await notify(second.url, `$drill-${i}:example.org`, phone.pushkey)).status);
        pair.end = Date.now();
      }
    })();
    const healthSeen: string[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const instance of [a, b]) healthSeen.push(await health(instance.url));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const upstream = (pair: Pair) => mock.requestsFor(pair.hex).length;

    try {
      await until('steady traffic', async () => (pairs.filter((pair) => pair.end > 0).length >= 10 ? true : undefined));
      const { promoted, close } = await group.promotion();
      const killedAt = Date.now();
      await group.primary.stop('SIGKILL');
      let promotedAt: number;
      try {
        promotedAt = await within('a sentinel announcing the promotion', promoted, 120_000);
      } finally {
        close();
      }
      assert.equal(await group.primaryPort(), group.replica.port, 'the replica was promoted');
      // Back to normal: both instances healthy, and retries de-duplicated again.
      const normalAt = await until(
        'Herald back to normal after the promotion',
        async () => {
          const healthy = (await Promise.all([a, b].map((instance) => health(instance.url)))).every((text) => HEALTHY.test(text));
          const recent = pairs.filter((pair) => pair.start > Date.now() - 60_000 && pair.start > promotedAt && pair.end > 0).slice(-3);
          return healthy && recent.length === 3 && recent.every((pair) => upstream(pair) === 1 && pair.statuses.every((s) => s === 200)) ? Date.now() : undefined;
        },
        60_000,
      );
      stop = true;
      await traffic;
      watching = false;
      await watcher;

      const statuses = pairs.flatMap((pair) => pair.statuses);
      assert.ok(!statuses.includes(500), 'never a 500');
      assert.deepEqual([...new Set(statuses)].filter((s) => s !== 200 && s !== 502), [], 'only 200, or 502 for a retry');
      for (const pair of pairs) {
        // The mock accepts every send: a 200 without one would be a notification never delivered.
        if (pair.statuses.includes(200)) assert.ok(upstream(pair) >= 1, `pair ${pair.i} answered 200 without a delivery`);
        assert.ok(upstream(pair) <= 2, `pair ${pair.i}: at most one send per request`);
      }
      const inWindow = pairs.filter((pair) => pair.start >= killedAt && pair.end > 0 && pair.end <= promotedAt);
      assert.ok(
        inWindow.some((pair) => pair.statuses[0] === 200 && upstream(pair) >= 1),
        'delivered between the crash and the promotion',
      );
      assert.ok(healthSeen.some((text) => /^OK, herald \S+; store degraded: /.test(text)), '/health said degraded during the failover');
      assert.ok((await storeErrors(a.metrics)) + (await storeErrors(b.metrics)) > 0, 'failures counted in herald_store_errors_total');
      assert.ok(normalAt - promotedAt <= 30_000, `back to normal ${normalAt - promotedAt} ms after the promotion`);

      const affected = pairs.filter((pair) => pair.end > 0 && (upstream(pair) !== 1 || pair.statuses.some((s) => s !== 200)));
      // A later retry of every event: sent again where the delivered marker is missing —
      // never written during the failover, or written to the old primary and lost with it
      // (replication is asynchronous).
      const before = new Map(pairs.map((pair) => [pair.i, upstream(pair)]));
      const completed = pairs.filter((pair) => pair.end > 0);
      let stillClaimed = 0;
      for (const pair of completed) {
        const { status } = await notify(a.url, `$drill-${pair.i}:example.org`, device(`drill-${pair.i}`).pushkey);
        // 502: a claim taken during the failover whose settlement failed, until it lapses.
        assert.ok(status === 200 || status === 502, `replay of pair ${pair.i}: ${status}`);
        if (status === 502) stillClaimed++;
      }
      const resent = completed.filter((pair) => upstream(pair) > (before.get(pair.i) ?? 0));
      const phase = (list: Pair[]) =>
        [list.filter((p) => p.end < killedAt), list.filter((p) => p.end >= killedAt && p.start < promotedAt), list.filter((p) => p.start >= promotedAt && p.start < normalAt), list.filter((p) => p.start >= normalAt)]
          .map((part) => part.length)
          .join('/');
      const resentBeforeCrash = resent.filter((pair) => pair.end < killedAt);
      console.log(
        `      failover drill: primary killed → promotion ${promotedAt - killedAt} ms, promotion → normal ${normalAt - promotedAt} ms; ` +
          `${pairs.length} event/retry pairs, ${inWindow.length} within crash → promotion; ` +
          `${affected.filter((pair) => before.get(pair.i) === 2).length} retries sent again (duplicates), ` +
          `${affected.filter((pair) => pair.statuses.includes(502)).length} answered 502; ` +
          `store errors counted: ${await storeErrors(a.metrics)} + ${await storeErrors(b.metrics)}; ` +
          `pairs by phase (before crash/crash→promotion/promotion→normal/after) ${phase(completed)}, duplicates ${phase(affected)}, resent on replay ${phase(resent)}; ` +
          `a later retry of all ${completed.length} events sent ${resent.length} again (${resentBeforeCrash.length} of them answered before the crash: markers lost with the old primary), ${stillClaimed} answered 502 (claim not yet lapsed)`,
      );
    } finally {
      stop = true;
      watching = false;
      await traffic;
      await watcher;
    }

    await assertDedupShared(mock, a, b, 'sentinel-after');
    await assertRejectionShared(mock, a, b, 'sentinel-dead-after');
    assert.doesNotMatch(JSON.stringify([...a.herald.lines, ...b.herald.lines]), /data-secret|sentinel-secret/, 'no password is logged');
  });
});

describe('shared store in Redis Cluster', function () {
  this.timeout(180_000);
  let cluster: RedisClusterGroup;
  let h: ApnsHarness;
  let mock: ApnsMock;
  const processes: HeraldProcess[] = [];

  before(async () => {
    cluster = await RedisClusterGroup.start({ password: 'cluster-secret' });
    h = new ApnsHarness();
    mock = await h.mock();
  });
  after(async () => {
    for (const herald of processes.splice(0)) assert.equal(await herald.stop(), 0, herald.stderr);
    await h?.close();
    await cluster?.stop();
  });

  it('de-duplicates and shares rejections across instances, for devices on every primary', async () => {
    const store = { cluster: { nodes: cluster.nodes, password: 'cluster-secret' }, timeout_ms: 5_000 };
    const [a, b] = [await startHerald(processes, store, h.tokenApp(mock)), await startHerald(processes, store, h.tokenApp(mock))];
    assert.match(await health(a.url), HEALTHY);

    // One live and one dead device per primary, found by where their hash tag lands.
    const labels = new Map<number, { live: string; dead: string }>();
    const slotOf = async (label: string) => cluster.portFor(`${KEY_PREFIX}{${rejectionKey(APP, device(label).pushkey)}}r`);
    for (let i = 0; labels.size < 3 || [...labels.values()].some((l) => !l.dead); i++) {
      assert.ok(i < 500, 'devices for every primary');
      const live = await slotOf(`cluster-live-${i}`);
      if (!labels.has(live)) labels.set(live, { live: `cluster-live-${i}`, dead: '' });
      const dead = await slotOf(`cluster-dead-${i}`);
      const entry = labels.get(dead);
      if (entry && !entry.dead) entry.dead = `cluster-dead-${i}`;
    }
    for (const { live, dead } of labels.values()) {
      await assertDedupShared(mock, a, b, live);
      await assertRejectionShared(mock, a, b, dead);
    }
    // Each primary holds the keys of its own devices: the live one's delivered marker, the dead one's rejection.
    for (const node of cluster.primaries) {
      const { live, dead } = labels.get(node.port) ?? { live: '', dead: '' };
      const { device: liveTag, delivery } = deliveryKey(`$${live}:example.org`, APP, device(live).pushkey);
      const expected = [`${KEY_PREFIX}{${liveTag}}d:${delivery}`, `${KEY_PREFIX}{${rejectionKey(APP, device(dead).pushkey)}}r`];
      assert.deepEqual(((await ask(node.port, ['KEYS', `${KEY_PREFIX}*`], cluster.password)) as string[]).sort(), expected.sort(), `primary ${node.port}`);
    }
    assert.equal(await storeErrors(a.metrics), 0);
    assert.equal(await storeErrors(b.metrics), 0);
    assert.doesNotMatch(JSON.stringify([...a.herald.lines, ...b.herald.lines]), /cluster-secret/, 'the password is never logged');
  });
});
