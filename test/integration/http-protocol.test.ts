import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { metric, startGateway, type RunningGateway } from '../helpers/gateway';

const NOTIFY = '/_matrix/push/v1/notify';
const APPS = 'apps:\n  com.example.noop:\n    type: noop\n';

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** When the server closed the connection, ms after the request was first written. */
  closedAfterMs: number;
}

function port(gw: RunningGateway): number {
  return Number(new URL(gw.url).port);
}

function open(gw: RunningGateway): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port(gw), '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Writes `chunks` on a fresh connection and reads until the server closes it. */
async function raw(gw: RunningGateway, ...chunks: Array<string | Buffer>): Promise<RawAnswer> {
  const socket = await open(gw);
  const started = Date.now();
  const received: Buffer[] = [];
  socket.on('data', (data: Buffer) => received.push(data));
  // Writes after the server answered may fail (EPIPE, ECONNRESET): the answer is what counts.
  socket.on('error', () => undefined);
  for (const chunk of chunks) socket.write(chunk);
  await new Promise((resolve) => socket.once('close', resolve));
  return { ...parse(Buffer.concat(received).toString('latin1')), closedAfterMs: Date.now() - started };
}

function parse(text: string): Omit<RawAnswer, 'closedAfterMs'> {
  const end = text.indexOf('\r\n\r\n');
  assert.ok(end > 0, `no HTTP answer: ${JSON.stringify(text.slice(0, 200))}`);
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: text.slice(end + 4) };
}

function assertMatrixError(answer: RawAnswer, status: number, errcode: string, mentions: RegExp): void {
  assert.equal(answer.status, status, answer.body);
  assert.match(answer.headers['content-type'] ?? '', /^application\/json/);
  const body = JSON.parse(answer.body) as { errcode: string; error: string };
  assert.equal(body.errcode, errcode);
  assert.match(body.error, mentions);
}

/** The handler learns of a closed connection asynchronously: wait for the gauge to come back to 0. */
async function noneInFlight(gw: RunningGateway): Promise<void> {
  for (let attempt = 0; (await metric(gw, 'sygnal_requests_in_flight')) !== 0; attempt++) {
    assert.ok(attempt < 250, 'a request stayed in sygnal_requests_in_flight');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const head = (extra: string) => `POST ${NOTIFY} HTTP/1.1\r\nHost: herald\r\nContent-Type: application/json\r\n${extra}\r\n`;

describe('HTTP protocol errors and listener limits (raw sockets)', function () {
  this.timeout(30_000);

  describe('malformed requests get a Matrix JSON error', () => {
    let gw: RunningGateway;
    before(async () => {
      gw = await startGateway(APPS);
    });
    after(() => gw.close());

    const cases: Array<[string, string, RegExp]> = [
      ['a Content-Length that is not a number', head('Content-Length: abc\r\n'), /Content-Length/],
      ['two different Content-Length headers', head('Content-Length: 5\r\nContent-Length: 6\r\n'), /Content-Length/],
      ['Content-Length with chunked', head('Content-Length: 5\r\nTransfer-Encoding: chunked\r\n'), /Transfer-Encoding/],
      ['a bad chunk size', head('Transfer-Encoding: chunked\r\n') + 'zz\r\n', /chunk size/],
      ['a NUL in a header value', head('X-Evil: a\0b\r\n'), /header value/],
      ['a transfer coding other than chunked', head('Transfer-Encoding: gzip\r\n'), /Transfer-Encoding/],
      ['not HTTP at all', 'GARBAGE\r\n\r\n', /method/],
    ];
    for (const [name, request, mentions] of cases) {
      it(`${name} → 400`, async () => {
        assertMatrixError(await raw(gw, request), 400, 'M_UNKNOWN', mentions);
      });
    }

    it('headers over 16 KB → 431', async () => {
      assertMatrixError(await raw(gw, head(`X-Big: ${'a'.repeat(20_000)}\r\n`)), 431, 'M_TOO_LARGE', /headers/);
    });

    it('an unknown Expect → 417, without calling the handler', async () => {
      const received = await metric(gw, 'sygnal_notifications_received_total');
      assertMatrixError(await raw(gw, head('Expect: 200-ok\r\nContent-Length: 2\r\n'), '{}'), 417, 'M_UNKNOWN', /Expect/);
      assert.equal(await metric(gw, 'sygnal_notifications_received_total'), received);
    });

    it('Expect: 100-continue still works', async () => {
      const socket = await open(gw);
      const body = JSON.stringify({ notification: { devices: [{ app_id: 'com.example.noop', pushkey: 'k' }] } });
      socket.write(head(`Expect: 100-continue\r\nContent-Length: ${body.length}\r\nConnection: close\r\n`));
      const chunks: Buffer[] = [];
      socket.on('data', (data: Buffer) => {
        chunks.push(data);
        if (Buffer.concat(chunks).toString().startsWith('HTTP/1.1 100') && chunks.length === 1) socket.write(body);
      });
      await new Promise((resolve) => socket.once('close', resolve));
      const text = Buffer.concat(chunks).toString();
      assert.match(text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    });

    it('counts what it answered', async () => {
      assert.ok((await metric(gw, 'herald_http_protocol_errors_total', { code: '400' })) >= cases.length);
      assert.ok((await metric(gw, 'herald_http_protocol_errors_total', { code: '431' })) >= 1);
    });

    it('still serves a good request afterwards', async () => {
      const response = await fetch(gw.url + NOTIFY, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ notification: { devices: [{ app_id: 'com.example.noop', pushkey: 'k' }] } }),
      });
      assert.equal(response.status, 200);
    });
  });

  describe('bodies over http.max_body_bytes', () => {
    let gw: RunningGateway;
    before(async () => {
      gw = await startGateway(APPS, { http: { max_body_bytes: 1024 } });
    });
    after(() => gw.close());

    const oversized = Buffer.alloc(256 * 1024, 'x');
    it('sent with a Content-Length: the 413 reaches the client every time', async () => {
      for (let i = 0; i < 20; i++) {
        const answer = await raw(gw, head(`Content-Length: ${oversized.length}\r\n`), oversized);
        assertMatrixError(answer, 413, 'M_TOO_LARGE', /1024 bytes/);
      }
    });

    it('sent chunked: the 413 reaches the client every time', async () => {
      for (let i = 0; i < 20; i++) {
        const chunks = [oversized.subarray(0, 100_000), oversized.subarray(100_000)].map((chunk) => Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]));
        const answer = await raw(gw, head('Transfer-Encoding: chunked\r\n'), ...chunks, '0\r\n\r\n');
        assertMatrixError(answer, 413, 'M_TOO_LARGE', /1024 bytes/);
      }
    });

    for (const framing of ['Content-Length', 'chunked'] as const) {
      it(`a sender going on past the discard bound is cut off, not read for ever (${framing})`, async () => {
        const socket = await open(gw);
        socket.on('error', () => undefined);
        let closed = false;
        socket.once('close', () => (closed = true));
        socket.write(head(framing === 'chunked' ? 'Transfer-Encoding: chunked\r\n' : `Content-Length: ${1024 * 1024 * 1024}\r\n`));
        const data = Buffer.alloc(64 * 1024, 'x');
        const chunk = framing === 'chunked' ? Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]) : data;
        let sent = 0;
        while (!closed && sent < 64 * 1024 * 1024) {
          if (!socket.write(chunk)) await new Promise((resolve) => setTimeout(resolve, 5));
          sent += chunk.length;
        }
        await new Promise((resolve) => (closed ? resolve(undefined) : socket.once('close', resolve)));
        assert.ok(sent < 64 * 1024 * 1024, `the server was still reading after ${sent} bytes`);
        await noneInFlight(gw);
      });
    }
  });

  describe('timeouts from the configuration', () => {
    let gw: RunningGateway;
    before(async () => {
      gw = await startGateway(APPS, { http: { request_timeout_ms: 1_000, headers_timeout_ms: 1_000, keep_alive_timeout_ms: 1_000 } });
    });
    after(() => gw.close());

    // Lower bounds are exact; upper bounds are generous for a busy machine, and far below
    // what Node's defaults gave (a 30 s check interval on top of the timeout).
    it('a stalled body → 408 after request_timeout_ms, and it leaves requests_in_flight', async () => {
      const answer = await raw(gw, head('Content-Length: 100\r\n') + '{"notification":');
      assertMatrixError(answer, 408, 'M_UNKNOWN', /1000 ms/);
      assert.ok(answer.closedAfterMs >= 1_000 && answer.closedAfterMs < 6_000, `closed after ${answer.closedAfterMs} ms`);
      await noneInFlight(gw);
    });

    it('headers never finished → 408 after headers_timeout_ms', async () => {
      const answer = await raw(gw, `POST ${NOTIFY} HTTP/1.1\r\nHost: herald\r\n`);
      assertMatrixError(answer, 408, 'M_UNKNOWN', /headers within 1000 ms/);
      assert.ok(answer.closedAfterMs >= 1_000 && answer.closedAfterMs < 6_000, `closed after ${answer.closedAfterMs} ms`);
    });

    it('an idle keep-alive connection is closed after keep_alive_timeout_ms', async () => {
      const socket = await open(gw);
      socket.write(`GET /health HTTP/1.1\r\nHost: herald\r\n\r\n`);
      const answered = new Promise<number>((resolve) => socket.once('data', () => resolve(Date.now())));
      await new Promise((resolve) => socket.once('close', resolve));
      const idleMs = Date.now() - (await answered);
      assert.ok(idleMs >= 900 && idleMs < 6_000, `idle for ${idleMs} ms`);
    });
  });

  describe('max_connections', () => {
    let gw: RunningGateway;
    before(async () => {
      gw = await startGateway(APPS, { http: { max_connections: 2 } });
    });
    after(() => gw.close());

    it('closes connections past the limit on arrival and counts them; frees the place when one closes', async () => {
      const first = await open(gw);
      const second = await open(gw);
      // Both are served, so the server has surely accepted them.
      for (const socket of [first, second]) {
        socket.write('GET /health HTTP/1.1\r\nHost: herald\r\n\r\n');
        await new Promise((resolve) => socket.once('data', resolve));
      }
      const third = await open(gw);
      third.on('error', () => undefined);
      await new Promise((resolve) => third.once('close', resolve));
      assert.equal(await metric(gw, 'herald_http_connections_dropped_total'), 1);
      first.destroy();
      await new Promise((resolve) => setImmediate(resolve));
      // The server learns of the close asynchronously: retry until the place is free.
      for (let attempt = 0; ; attempt++) {
        const response = await fetch(gw.url + '/health').catch(() => undefined);
        if (response?.status === 200) break;
        assert.ok(attempt < 50, 'no connection accepted after one closed');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      second.destroy();
    });
  });
});
