import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { ApnsConfig } from '../../src/pushkins/apns/config';
import { loadPemCertificate } from '../../src/pushkins/apns/credentials';
import { providerOptions } from '../../src/pushkins/apns/provider';
import { startTunnelRelay, type TunnelRelay } from '../../src/util/proxy';
import { apnsTestPki } from '../upstreams/apns-pki';
import { ConnectProxy } from '../helpers/connect-proxy';

/**
 * Sends `text` through the relay and resolves with the answer once `expected` characters
 * came back, or with what came before the relay closed the connection.
 */
function exchange(relay: TunnelRelay, text: string, expected = text.length): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(relay.port, relay.host);
    let received = '';
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
      if (received.length >= expected) socket.destroy();
    });
    socket.on('close', () => resolve(received));
    socket.write(text);
  });
}

/**
 * The loopback relay APNs connections use to go through the outbound proxy: bytes pass
 * both ways unchanged through an authenticated tunnel, and a tunnel that cannot be opened
 * closes the client's connection and says why.
 */
describe('util/proxy: tunnel relay', () => {
  let proxy: ConnectProxy;
  let echo: Server;
  let echoPort: number;
  let relay: TunnelRelay | undefined;
  const sockets = new Set<Socket>();

  beforeEach(async () => {
    proxy = await ConnectProxy.start('relay', 'secret');
    // Answers what it receives, upper-cased.
    echo = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('data', (chunk: Buffer) => socket.write(chunk.toString().toUpperCase()));
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    echoPort = (echo.address() as AddressInfo).port;
  });
  afterEach(async () => {
    await relay?.close();
    relay = undefined;
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => echo.close(() => resolve()));
    await proxy.close();
  });

  it('carries bytes both ways through the proxy, with its credentials', async () => {
    const problems: string[] = [];
    relay = await startTunnelRelay(new URL(`http://relay:secret@127.0.0.1:${proxy.port}`), `127.0.0.1:${echoPort}`, (p) => problems.push(p));
    assert.equal(await exchange(relay, 'client hello'), 'CLIENT HELLO');
    assert.deepEqual(proxy.tunnels.map((t) => [t.target, t.authorization]), [[`127.0.0.1:${echoPort}`, `Basic ${Buffer.from('relay:secret').toString('base64')}`]]);
    assert.equal(proxy.tunnels[0]?.firstBytes?.toString(), 'client h');
    assert.deepEqual(problems, []);
  });

  it('closes the connection and reports the answer when the proxy refuses the tunnel', async () => {
    const problems: string[] = [];
    relay = await startTunnelRelay(new URL(`http://relay:wrong@127.0.0.1:${proxy.port}`), `127.0.0.1:${echoPort}`, (p) => problems.push(p));
    assert.equal(await exchange(relay, 'client hello'), '', 'nothing from the proxy reaches the client');
    assert.deepEqual(problems, [`the proxy answered 407 Proxy Authentication Required to CONNECT 127.0.0.1:${echoPort}`]);
  });

  it('closes the connection and reports it when the proxy cannot be reached', async () => {
    const problems: string[] = [];
    // A port nothing listens on: bound, then released.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    relay = await startTunnelRelay(new URL(`http://127.0.0.1:${closedPort}`), `127.0.0.1:${echoPort}`, (p) => problems.push(p));
    assert.equal(await exchange(relay, 'client hello'), '');
    assert.equal(problems.length, 1);
    assert.match(String(problems[0]), new RegExp(`^cannot open a tunnel to 127\\.0\\.0\\.1:${echoPort} through the proxy: .*ECONNREFUSED`));
  });
});

/**
 * APNs TLS over a relay connection (providerOptions' createConnection): the TLS server
 * plays APNs on the relay's address. The server name and the certificate check are the
 * APNs host's, never the relay's, and certificate auth presents its client certificate.
 */
describe('pushkins/apns/provider: TLS through the relay', () => {
  const pki = apnsTestPki();
  let server: TlsServer;
  let port: number;
  const seen: Array<{ servername: string | false | null; peer: string | undefined }> = [];

  before(async () => {
    server = createTlsServer({ key: pki.serverKey, cert: pki.serverCert, ca: pki.caPem, requestCert: true, rejectUnauthorized: false, ALPNProtocols: ['h2'] }, (socket) => {
      seen.push({ servername: socket.servername, peer: socket.getPeerX509Certificate()?.subject });
      socket.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  function certificateApp(): ApnsConfig {
    const loaded = loadPemCertificate(readFileSync(pki.clientCerts.sandbox, 'utf8'), undefined);
    assert.ok(loaded.ok);
    return {
      auth: { kind: 'certificate', file: pki.clientCerts.sandbox, credentials: loaded.value, notAfter: 0 },
      platform: 'sandbox',
      convertDeviceTokenToHex: true,
      sendBadgeCounts: true,
      ca: pki.caPem,
      requestTimeoutMs: 5_000,
      maxConnections: 1,
    };
  }

  /** The TLS outcome of one connection for `authority`, once the server has closed it. */
  function handshake(authority: string): Promise<string> {
    const options = providerOptions(certificateApp(), { host: '127.0.0.1', port });
    assert.ok(options.createConnection);
    const socket = options.createConnection(new URL(authority)) as TLSSocket;
    let outcome = 'closed before the handshake';
    socket.on('secureConnect', () => (outcome = `connected, ALPN ${String(socket.alpnProtocol)}`));
    socket.on('error', (err) => (outcome = `error: ${err.message}`));
    socket.resume();
    return new Promise((resolve) => socket.on('close', () => resolve(outcome)));
  }

  it('names the APNs host in SNI and presents the client certificate', async () => {
    seen.length = 0;
    assert.equal(await handshake('https://localhost'), 'connected, ALPN h2');
    assert.deepEqual(seen, [{ servername: 'localhost', peer: new X509Certificate(readFileSync(pki.clientCerts.sandbox)).subject }]);
  });

  it("checks the server's certificate against the APNs host, not the relay's address", async () => {
    // The test server's certificate names 127.0.0.1 and localhost, not Apple.
    assert.match(await handshake('https://api.sandbox.push.apple.com'), /^error: Hostname\/IP does not match certificate's altnames/);
  });
});
