import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createHttpServer } from '../../../src/http/server';

describe('http/server createHttpServer', () => {
  it('has Node construct requests and responses as the app\'s own, so Express re-parents nothing per request', async () => {
    const app = express();
    // An extension of app.request made before the listener exists still applies.
    (app.request as unknown as { greeting: string }).greeting = 'hello';
    const server = createHttpServer(app, { requestTimeoutMs: 5_000, headersTimeoutMs: 5_000, keepAliveTimeoutMs: 5_000, maxConnections: 10 });
    const seen: Array<Record<string, unknown>> = [];
    app.get('/', (req, res) => {
      seen.push({
        requestPrototype: Object.getPrototypeOf(req) === app.request,
        responsePrototype: Object.getPrototypeOf(res) === app.response,
        app: req.app === app,
        greeting: (req as unknown as { greeting: string }).greeting,
      });
      res.json({ ok: true });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      for (let i = 0; i < 2; i++) {
        const answer = await fetch(`http://127.0.0.1:${port}/`);
        assert.deepEqual(await answer.json(), { ok: true });
      }
      // A second listener for the same app shares the classes: app.request is not wrapped again.
      const [request, response] = [app.request, app.response];
      const second = createHttpServer(app, { requestTimeoutMs: 5_000, headersTimeoutMs: 5_000, keepAliveTimeoutMs: 5_000, maxConnections: 10 });
      second.close();
      assert.equal(app.request, request);
      assert.equal(app.response, response);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    assert.deepEqual(seen, [
      { requestPrototype: true, responsePrototype: true, app: true, greeting: 'hello' },
      { requestPrototype: true, responsePrototype: true, app: true, greeting: 'hello' },
    ]);
  });
});
