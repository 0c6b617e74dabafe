import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { startGateway, type RunningGateway } from '../helpers/gateway';
import { assertUpstreamNotifyResponse } from '../helpers/upstream-schema';

const SAMPLES = join(__dirname, '..', 'fixtures', 'homeserver-samples');

/** One recorded request (test/fixtures/homeserver-samples/README.md). */
interface Sample {
  method: string;
  path: string;
  headers: Record<string, string>;
  body_raw: string;
  herald_status: number;
  herald_response: string;
}

/** Headers that describe the recorded connection rather than the request. */
const CONNECTION_HEADERS = new Set(['host', 'content-length']);

describe('requests recorded from a real Synapse', () => {
  let gw: RunningGateway;
  before(async () => {
    gw = await startGateway('apps: {org.example.herald.noop: {type: noop}}');
  });
  after(() => gw.close());

  const files = readdirSync(SAMPLES).filter((name) => name.endsWith('.json'));
  it('has samples to replay', () => assert.ok(files.length >= 5, files.join(', ')));

  for (const file of files) {
    it(`answers ${file} as recorded`, async () => {
      const sample = JSON.parse(readFileSync(join(SAMPLES, file), 'utf8')) as Sample;
      let call = request(gw.gateway.app).post(sample.path);
      for (const [name, value] of Object.entries(sample.headers)) if (!CONNECTION_HEADERS.has(name)) call = call.set(name, value);
      const response = await call.send(sample.body_raw);
      assert.equal(response.status, sample.herald_status, response.text);
      assert.deepEqual(response.body, JSON.parse(sample.herald_response));
      assertUpstreamNotifyResponse(response.body);
    });

    it(`answers ${file} sent without a Content-Type header`, async () => {
      const sample = JSON.parse(readFileSync(join(SAMPLES, file), 'utf8')) as Sample;
      // A Buffer body makes supertest send no Content-Type of its own.
      const response = await request(gw.gateway.app).post(sample.path).send(Buffer.from(sample.body_raw));
      assert.equal(response.status, sample.herald_status, response.text);
    });
  }
});
