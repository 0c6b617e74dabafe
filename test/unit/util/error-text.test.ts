import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { connectionFailureText } from '../../../src/util/error-text';
import { apnsTestPki } from '../../upstreams/apns-pki';

/** What undici throws for a request to `origin` through `agent`. */
async function failure(origin: string, agent: Agent): Promise<unknown> {
  try {
    const response = await request(origin, { dispatcher: agent });
    await response.body.text();
  } catch (err) {
    return err;
  }
  assert.fail('the request should have failed');
}

describe('util/error-text: why an upstream gave no answer', () => {
  let server: Server;
  let origin: string;
  before(async () => {
    const pki = apnsTestPki();
    // A certificate for 127.0.0.1 and localhost, from the test CA.
    server = createServer({ key: pki.serverKey, cert: pki.serverCert }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('a certificate for another name is a TLS problem, not "unreachable or timed out"', async () => {
    const pki = apnsTestPki();
    const agent = new Agent({ connect: { ca: pki.caPem, servername: 'fcm.googleapis.com' } });
    const text = connectionFailureText('FCM', await failure(origin, agent));
    await agent.close();
    assert.match(text, /^FCM TLS certificate refused \(check the host name, ca_file, or a TLS-intercepting proxy\): .*fcm\.googleapis\.com.*\(ERR_TLS_CERT_ALTNAME_INVALID\)$/);
  });

  it('a certificate from an unknown CA too', async () => {
    const agent = new Agent();
    const text = connectionFailureText('push service', await failure(origin, agent));
    await agent.close();
    assert.match(text, /^push service TLS certificate refused .*\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)$/);
  });

  it('a refused connection is unreachable', async () => {
    const agent = new Agent();
    // Port 1 on loopback: nothing listens there.
    const text = connectionFailureText('FCM', await failure('https://127.0.0.1:1', agent));
    await agent.close();
    assert.match(text, /^FCM unreachable or timed out: .*ECONNREFUSED/);
  });
});
