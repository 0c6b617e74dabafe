import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

export interface Tunnel {
  readonly target: string;
  readonly authorization: string | undefined;
  /** The first bytes the client sent through the open tunnel (a TLS record is 0x16 0x03 …). */
  firstBytes?: Buffer;
}

/**
 * An HTTP CONNECT proxy on 127.0.0.1 for tests: it requires basic authentication
 * (407 otherwise), records every tunnel with its target, Proxy-Authorization and first
 * bytes, and can be restarted on the same port, cutting every tunnel, like a proxy being
 * restarted.
 */
export class ConnectProxy {
  readonly tunnels: Tunnel[] = [];
  private server!: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  private constructor(private readonly expectedAuthorization: string) {}

  static async start(user: string, password: string): Promise<ConnectProxy> {
    const proxy = new ConnectProxy(`Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`);
    await proxy.listen(0);
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private async listen(port: number): Promise<void> {
    this.server = createServer((_req, res) => res.writeHead(405).end());
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => this.tunnel(req, client, head));
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  private tunnel(req: IncomingMessage, client: Socket, head: Buffer): void {
    const authorization = req.headers['proxy-authorization'];
    const tunnel: Tunnel = { target: req.url ?? '', authorization };
    this.tunnels.push(tunnel);
    client.on('error', () => client.destroy());
    if (authorization !== this.expectedAuthorization) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\n\r\n');
      return;
    }
    const [host = '', port = ''] = (req.url ?? '').split(/:(?=\d+$)/);
    if (host !== '127.0.0.1' && host !== 'localhost') {
      // Tests never leave the machine.
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) tunnel.firstBytes = head.subarray(0, 8);
      else client.once('data', (chunk: Buffer) => (tunnel.firstBytes ??= chunk.subarray(0, 8)));
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    this.sockets.add(upstream);
    upstream.on('close', () => {
      this.sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
  }

  tunnelsTo(port: number): Tunnel[] {
    return this.tunnels.filter((tunnel) => tunnel.target.endsWith(`:${port}`));
  }

  /** Stops (cutting every tunnel) and listens again on the same port. */
  async restart(): Promise<void> {
    await this.close();
    await this.listen(this.port);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
