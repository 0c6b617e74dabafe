import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UpstreamClient } from '../../../src/upstream/client';
import { EndpointRefusedError, PUBLIC_ADDRESSES_ONLY } from '../../../src/upstream/endpoint';

describe('upstream/client', () => {
  let server: Server;
  let origin = '';
  const seen: Array<{ method: string; path: string; body: string }> = [];

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') });
        if (req.url === '/big') {
          res.writeHead(200);
          res.end('x'.repeat(100_000));
        } else if (req.url === '/moved') {
          res.writeHead(302, { location: '/elsewhere' });
          res.end();
        } else {
          res.writeHead(201, { 'retry-after': '7' });
          res.end('created');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function client(options: Partial<ConstructorParameters<typeof UpstreamClient>[0]> = {}): UpstreamClient {
    return new UpstreamClient({ connections: 2, timeoutMs: 5_000, maxBodyBytes: 1024, proxyFor: () => undefined, ...options });
  }

  it('sends the method, path, query and body, and answers status, headers and body', async () => {
    const c = client();
    try {
      const answer = await c.send(new URL(`${origin}/topic?up=1`), { headers: { 'content-type': 'application/json' }, body: '{"a":1}' }, new AbortController().signal);
      assert.deepEqual([answer.status, answer.headers['retry-after'], answer.body], [201, '7', 'created']);
      assert.deepEqual(seen.at(-1), { method: 'POST', path: '/topic?up=1', body: '{"a":1}' });
      await c.send(new URL(`${origin}/token`), { method: 'GET', headers: {} }, new AbortController().signal);
      assert.equal(seen.at(-1)?.method, 'GET');
    } finally {
      await c.close();
    }
  });

  it('reads no more than maxBodyBytes of an answer, and follows no redirect', async () => {
    const c = client();
    try {
      const big = await c.send(new URL(`${origin}/big`), { headers: {} }, new AbortController().signal);
      assert.equal(big.body.length, 1024);
      const moved = await c.send(new URL(`${origin}/moved`), { headers: {} }, new AbortController().signal);
      assert.equal(moved.status, 302);
      assert.ok(!seen.some((request) => request.path === '/elsewhere'));
    } finally {
      await c.close();
    }
  });

  it('with the public-only guard, refuses a loopback address at connect time', async () => {
    const c = client({ guard: PUBLIC_ADDRESSES_ONLY });
    const before = seen.length;
    try {
      const port = new URL(origin).port;
      await assert.rejects(c.send(new URL(`http://localhost:${port}/x`), { headers: {} }, new AbortController().signal), EndpointRefusedError);
      assert.equal(seen.length, before, 'nothing reached the server');
    } finally {
      await c.close();
    }
  });

  it('capacity: 100 streams per connection over direct https, 1 over http or through the proxy', () => {
    const direct = client({ connections: 3 });
    const proxied = client({ connections: 3, proxyFor: () => 'http://proxy.example:3128' });
    assert.equal(direct.capacity('https://fcm.googleapis.com'), 300);
    assert.equal(direct.capacity('http://127.0.0.1:8080'), 3);
    assert.equal(direct.capacity(), 300, 'origins chosen by users: as for a public https origin');
    assert.equal(proxied.capacity('https://fcm.googleapis.com'), 3);
    assert.equal(proxied.capacity(), 3);
  });
});
