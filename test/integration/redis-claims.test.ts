import assert from 'node:assert/strict';
import { Metrics } from '../../src/metrics/metrics';
import { RedisStore } from '../../src/store/redis';
import { createLogger } from '../../src/util/log';
import { ApnsHarness, device, notify } from '../helpers/apns-harness';
import type { RunningGateway } from '../helpers/gateway';
import { RedisServer } from '../upstreams/redis-server';

/**
 * The cross-process claim when the first send does not deliver: two gateways in this process, each
 * with its own RedisStore on one redis-server (as two instances would be), in front of
 * one mock APNs.
 */
describe('shared store in Redis: a retry waiting on another process\'s send', function () {
  this.timeout(60_000);
  let redis: RedisServer;
  let h: ApnsHarness;

  before(async () => {
    redis = await RedisServer.start();
  });
  after(async () => {
    await redis.stop();
  });
  beforeEach(() => {
    h = new ApnsHarness();
  });
  afterEach(() => h.close());

  function sharedStore(): RedisStore {
    const metrics = new Metrics();
    return new RedisStore({
      url: redis.url,
      keyPrefix: 'claims:',
      timeoutMs: 2_000,
      rejectedTtlSeconds: 600,
      dedupTtlSeconds: 600,
      log: createLogger('silent'),
      errors: metrics.storeErrors,
    });
  }

  const CASES = [
    {
      name: 'sends itself once the first send has failed, never answering 200 for the failed one',
      firstAnswer: { status: 400, reason: 'BadPriority' },
      first: { status: 502, outcome: 'failed' },
      second: { status: 200, rejected: false },
      upstreamRequests: 2,
    },
    {
      name: 'answers rejected, without sending, when the first send found the pushkey dead',
      firstAnswer: { status: 410, reason: 'Unregistered' },
      first: { status: 200, outcome: 'rejected' },
      second: { status: 200, rejected: true },
      upstreamRequests: 1,
    },
  ];

  for (const c of CASES) {
    it(c.name, async () => {
      const mock = await h.mock();
      const phone = device(c.name);
      const answer = mock.hold(phone.hex, c.firstAnswer);
      const first: RunningGateway = await h.gateway(h.tokenApp(mock), { store: sharedStore() });
      const second: RunningGateway = await h.gateway(h.tokenApp(mock), { store: sharedStore() });

      const eventId = `$${c.firstAnswer.reason}:example.org`;
      const firstReply = notify(first, { event_id: eventId }, { pushkey: phone.pushkey });
      await mock.waitForRequests(phone.hex, 1);
      const retry = notify(second, { event_id: eventId }, { pushkey: phone.pushkey });
      await second.logs.line((line) => line.msg === 'event being sent to this device by another process; waiting for its outcome');
      answer();

      const firstDone = await firstReply;
      assert.equal(firstDone.status, c.first.status);
      if (c.first.status === 502) assert.deepEqual(firstDone.body.devices?.map((d) => d.outcome), [c.first.outcome]);
      else assert.deepEqual(firstDone.body, { rejected: [phone.pushkey] });
      const retried = await retry;
      assert.equal(retried.status, c.second.status);
      assert.deepEqual(retried.body, { rejected: c.second.rejected ? [phone.pushkey] : [] });
      assert.equal(mock.requestsFor(phone.hex).length, c.upstreamRequests, 'never two sends at once');
    });
  }
});
