import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { HeraldProcess } from '../helpers/process';
import { RedisServer } from '../upstreams/redis-server';

/** Holds a port on 127.0.0.1, as another program would. */
async function holdPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, server };
}

/** What an operator sees when Herald cannot listen: exactly one line, and nothing after it. */
async function refusal(herald: HeraldProcess): Promise<{ code: number | null; line: string }> {
  const code = await herald.exitCode();
  const lines = herald.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `one line on stderr: ${herald.stderr}`);
  assert.doesNotMatch(herald.stderr, /\n\s+at /, 'no stack trace');
  assert.ok(!herald.lines.some((line) => line.msg === 'stopped' || line.msg === 'herald is ready'), JSON.stringify(herald.lines));
  return { code, line: lines[0] ?? '' };
}

describe('a listener that cannot open', function () {
  this.timeout(120_000);
  let held: { port: number; server: Server };
  beforeEach(async () => {
    held = await holdPort();
  });
  afterEach(() => new Promise<void>((resolve) => held.server.close(() => resolve())));

  it('notify port in use: one line naming http.port and the address, exit 75 (the port may be free on the next try)', async () => {
    const { code, line } = await refusal(HeraldProcess.withConfig(`http: {port: ${held.port}}\napps: {a: {type: noop}}\n`));
    assert.equal(code, 75);
    assert.equal(line, `herald: cannot listen on 127.0.0.1:${held.port} (http.bind_addresses, http.port): another process is listening there (another Herald, or the previous one still stopping?) (EADDRINUSE)`);
  });

  it('metrics port in use: names metrics.prometheus.port', async () => {
    const { code, line } = await refusal(
      HeraldProcess.withConfig(`http: {port: 0}\nmetrics: {prometheus: {enabled: true, port: ${held.port}}}\napps: {a: {type: noop}}\n`),
    );
    assert.equal(code, 75);
    assert.match(line, new RegExp(`^herald: cannot listen on 127\\.0\\.0\\.1:${held.port} \\(metrics\\.prometheus\\.address, metrics\\.prometheus\\.port\\): .*\\(EADDRINUSE\\)$`));
  });

  it('an address this host does not have: exit 78, naming http.bind_addresses', async () => {
    // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never a local address.
    const { code, line } = await refusal(HeraldProcess.withConfig('http: {port: 0, bind_addresses: [192.0.2.7]}\napps: {a: {type: noop}}\n'));
    assert.equal(code, 78);
    assert.equal(line, 'herald: cannot listen on 192.0.2.7:0 (http.bind_addresses, http.port): this host has no such address (EADDRNOTAVAIL)');
  });

  describe('with workers', () => {
    let redis: RedisServer;
    before(async () => {
      redis = await RedisServer.start();
    });
    after(() => redis.stop());
    const store = () => `store: {type: redis, url: "${redis.url}"}\n`;

    it('notify port in use: the line is printed once for the cluster, not once per worker', async () => {
      const { code, line } = await refusal(HeraldProcess.withConfig(`workers: 2\n${store()}http: {port: ${held.port}}\napps: {a: {type: noop}}\n`));
      assert.equal(code, 75);
      assert.match(line, new RegExp(`^herald: cannot listen on 127\\.0\\.0\\.1:${held.port} \\(http\\.bind_addresses, http\\.port\\)`));
    });

    it('metrics port in use (the primary serves it): one line, and the workers stop', async () => {
      const { code, line } = await refusal(
        HeraldProcess.withConfig(`workers: 2\n${store()}http: {port: 0}\nmetrics: {prometheus: {enabled: true, port: ${held.port}}}\napps: {a: {type: noop}}\n`),
      );
      assert.equal(code, 75);
      assert.match(line, /\(metrics\.prometheus\.address, metrics\.prometheus\.port\)/);
    });
  });
});
