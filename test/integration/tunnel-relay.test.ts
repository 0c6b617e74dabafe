import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { startTunnelRelay, type TunnelRelay } from '../../src/util/proxy';
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
