import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import type { ApnsConfig } from '../../../../src/pushkins/apns/config';
import { ApnsTransport, providerOptions, toAnswer } from '../../../../src/pushkins/apns/provider';
import { createLogger } from '../../../../src/util/log';

const base: ApnsConfig = {
  auth: { kind: 'token', file: '/k.p8', key: '-----BEGIN PRIVATE KEY-----', keyId: 'KID', teamId: 'TEAM' },
  platform: 'production',
  convertDeviceTokenToHex: true,
  sendBadgeCounts: true,
  requestTimeoutMs: 1234,
  maxConnections: 1,
};

describe('pushkins/apns/provider', () => {
  it("turns node-apn's own retries off and passes the request timeout", () => {
    const options = providerOptions(base, undefined);
    assert.equal(options.connectionRetryLimit, 0);
    assert.equal(options.requestTimeout, 1234);
    assert.equal(options.production, true);
    assert.deepEqual(options.token, { key: '-----BEGIN PRIVATE KEY-----', keyId: 'KID', teamId: 'TEAM' });
    assert.equal(options.address, undefined, "Apple's own host unless endpoint is set");
    assert.equal(options.proxy, undefined);
  });

  it('connects to endpoint, trusting ca_file', () => {
    const options = providerOptions(
      { ...base, platform: 'sandbox', endpoint: { host: 'relay.example.org', port: 8443, url: 'https://relay.example.org:8443' }, ca: 'PEM' },
      undefined,
    );
    assert.equal(options.production, false);
    assert.equal(options.address, 'relay.example.org');
    assert.equal(options.port, 8443);
    assert.deepEqual(options.ca, ['PEM']);
    assert.equal(options.createConnection, undefined, 'node-apn connects by itself without a proxy');
  });

  it("goes through the proxy's relay with its own TLS, never node-apn's proxy option", () => {
    const options = providerOptions(base, { host: '127.0.0.1', port: 9 });
    assert.equal(options.proxy, undefined);
    assert.equal(options.address, undefined, "still Apple's host: node-apn keeps production, :authority and the server name");
    assert.equal(typeof options.createConnection, 'function');
  });

  it('refuses a configuration that had errors', () => {
    assert.throws(() => providerOptions({ ...base, auth: null }, undefined), /configuration with errors/);
  });

  it('answers no-answer within request_timeout_ms when the connection never opens', async () => {
    // Accepts TCP and never speaks TLS: the HTTP/2 session never connects.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const options = providerOptions(
      { ...base, auth: { kind: 'token', file: '/k.p8', key, keyId: 'KID', teamId: 'TEAM' }, requestTimeoutMs: 300, endpoint: { host: '127.0.0.1', port, url: `https://127.0.0.1:${port}` } },
      undefined,
    );
    const transport = new ApnsTransport(options, 1, createLogger('silent'));
    try {
      const started = Date.now();
      const answer = await transport.send({ token: 'ab'.repeat(32), payload: { aps: {} }, priority: 10 });
      assert.equal(answer.kind, 'no-answer');
      assert.ok(Date.now() - started < 2_000, `answered after ${Date.now() - started} ms`);
    } finally {
      await transport.close();
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  describe("toAnswer: node-apn's report of a request → Herald's answer", () => {
    // What node-apn 8 reports for each kind of APNs answer (with connectionRetryLimit 0).
    const cases: Array<{ name: string; failure: Parameters<typeof toAnswer>[1]; answer: object }> = [
      { name: 'accepted', failure: undefined, answer: { kind: 'answer', status: 200 } },
      { name: 'a JSON body: status and reason', failure: { status: 400, response: { reason: 'BadDeviceToken' } }, answer: { kind: 'answer', status: 400, reason: 'BadDeviceToken' } },
      {
        name: 'ExpiredProviderToken, reported as an error message: the status alone',
        failure: { status: 403, error: new Error('ExpiredProviderToken') },
        answer: { kind: 'answer', status: 403 },
      },
      {
        name: "a 500's reason, replaced by node-apn's own message: the status alone",
        failure: { status: 500, error: new Error('Error 500, stream ended unexpectedly') },
        answer: { kind: 'answer', status: 500 },
      },
      {
        name: 'an empty body, reported without a status: no answer',
        failure: { error: new Error('stream ended unexpectedly with status 403 and empty body') },
        answer: { kind: 'no-answer', error: 'stream ended unexpectedly with status 403 and empty body' },
      },
      { name: 'a timeout: no answer', failure: { error: new Error('apn write timeout') }, answer: { kind: 'no-answer', error: 'apn write timeout' } },
      { name: 'nothing said at all', failure: {}, answer: { kind: 'no-answer', error: 'no answer from APNs' } },
    ];
    for (const { name, failure, answer } of cases) {
      it(name, () => assert.deepEqual(toAnswer('id', failure), { apnsId: 'id', ...answer }));
    }
  });
});
