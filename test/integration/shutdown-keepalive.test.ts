import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { HeraldProcess } from '../helpers/process';
import { RedisServer } from '../upstreams/redis-server';

const CLIENTS = 16;
/** Requests per client at most (a bound: clients stop at their connection's last answer, soon after SIGTERM). */
const REQUESTS_PER_CLIENT = 500;
const BODY = JSON.stringify({ notification: { devices: [{ app_id: 'com.example.a', pushkey: 'k' }] } });

interface Tally {
  answered: number;
  /** Clients whose connection has carried two answers: it is open and being reused. */
  reusing: number;
  /** Answers that said Connection: close. */
  closeAnswers: number;
  /** Anything else (ECONNRESET, socket hang up): a request sent and never answered. */
  failures: string[];
}

/** One POST on the client's agent; resolves with the answer's Connection header, or the error. */
function post(url: URL, agent: Agent): Promise<{ connection: string } | { error: NodeJS.ErrnoException }> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ connection: String(res.headers.connection ?? '') }));
      res.on('error', (error) => resolve({ error }));
    });
    req.on('error', (error) => resolve({ error: Object.assign(error, { message: `${error.message} (on a reused connection: ${req.reusedSocket})` }) }));
    req.end(BODY);
  });
}

/**
 * A homeserver-like client: one keep-alive connection, requests back to back until an
 * answer says `Connection: close`. (Its next request would open a new connection, which
 * a closing listener may refuse or, from the kernel's accept queue, reset: that is not a
 * request on an existing connection, and a homeserver retries it.)
 */
async function client(url: URL, tally: Tally): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < REQUESTS_PER_CLIENT; i++) {
      const result = await post(url, agent);
      if ('error' in result) {
        tally.failures.push(`${result.error.code ?? ''} ${result.error.message}`);
        return;
      }
      tally.answered++;
      if (i === 1) tally.reusing++;
      if (result.connection === 'close') {
        tally.closeAnswers++;
        return;
      }
    }
  } finally {
    agent.destroy();
  }
}

/** `store` is the YAML of a store section: workers share theirs through Redis. */
async function sigtermUnderLoad(workers: number, store: string): Promise<Tally> {
  const herald = HeraldProcess.withConfig(`workers: ${workers}\nstore: ${store}\nhttp: {port: 0, shutdown_grace_ms: 5000}\napps: {com.example.a: {type: noop}}\n`);
  const tally: Tally = { answered: 0, reusing: 0, closeAnswers: 0, failures: [] };
  try {
    const url = new URL(`${await herald.url()}/_matrix/push/v1/notify`);
    const clients = Array.from({ length: CLIENTS }, () => client(url, tally));
    // SIGTERM once every client's connection is open and being reused.
    while (tally.reusing < CLIENTS) await new Promise((resolve) => setTimeout(resolve, 5));
    herald.signal('SIGTERM');
    await Promise.all(clients);
  } finally {
    assert.equal(await herald.stop(), 0);
  }
  return tally;
}

describe('shutdown under keep-alive load', function () {
  this.timeout(60_000);
  let redis: RedisServer;
  before(async () => {
    redis = await RedisServer.start();
  });
  after(async () => {
    await redis.stop();
  });

  for (const workers of [1, 2]) {
    it(`answers every request and resets no connection (workers: ${workers})`, async () => {
      const tally = await sigtermUnderLoad(workers, workers > 1 ? JSON.stringify({ type: 'redis', url: redis.url }) : '{type: memory}');
      assert.deepEqual(tally.failures, [], 'no connection reset, no request left unanswered');
      assert.equal(tally.closeAnswers, CLIENTS, 'every connection ended with an answer saying Connection: close');
      assert.ok(tally.answered >= CLIENTS * 2);
    });
  }
});
