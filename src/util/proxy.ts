import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ConfigError } from '../config/section';

/**
 * The outbound proxy: the config's `proxy`, else HTTPS_PROXY / https_proxy; hosts
 * listed in NO_PROXY / no_proxy (names, `.domain` suffixes, `host:port`, or `*`) go direct.
 */
export class ProxySettings {
  private constructor(
    readonly url: URL,
    private readonly noProxy: readonly string[],
  ) {}

  static resolve(configProxy: string | undefined, env: NodeJS.ProcessEnv = process.env): ProxySettings | undefined {
    const value = configProxy ?? env.HTTPS_PROXY ?? env.https_proxy;
    if (!value) return undefined;
    const problem = proxyUrlProblem(value);
    if (problem !== undefined) {
      const source = configProxy !== undefined ? 'proxy' : env.HTTPS_PROXY !== undefined ? 'HTTPS_PROXY' : 'https_proxy';
      throw new ConfigError([`${source}: ${problem}`]);
    }
    const noProxy = (env.NO_PROXY ?? env.no_proxy ?? '')
      .split(',')
      .map((entry) => entry.trim().toLowerCase())
      .filter(Boolean);
    return new ProxySettings(new URL(value), noProxy);
  }

  /** The proxy URL to reach `target` (a URL), or undefined to connect directly. */
  for(target: string): string | undefined {
    const { hostname, port, protocol } = new URL(target);
    const host = hostname.toLowerCase().replace(/^\[|\]$/g, '');
    const effectivePort = port || (protocol === 'https:' ? '443' : '80');
    const bypass = this.noProxy.some((entry) => {
      if (entry === '*') return true;
      const [name = '', entryPort] = entry.split(/:(?=\d+$)/);
      if (entryPort && entryPort !== effectivePort) return false;
      const domain = name.replace(/^\*?\./, '');
      return host === domain || host.endsWith(`.${domain}`);
    });
    return bypass ? undefined : this.url.href;
  }
}

/** Why `value` is not a usable proxy URL, or undefined when it is. */
export function proxyUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not a URL (expected http://[user:pass@]host:port)';
  }
  if (url.protocol !== 'http:') return `must be an http:// proxy URL (expected http://[user:pass@]host:port), got ${JSON.stringify(value.split('@').pop())}`;
  if (!url.hostname) return 'must name a host';
  return undefined;
}

/** The `Proxy-Authorization` value for a proxy URL's user and password, if it has them. */
export function proxyAuthorization(proxy: URL): string | undefined {
  if (!proxy.username) return undefined;
  const credentials = `${decoded(proxy.username)}:${decoded(proxy.password)}`;
  return `Basic ${Buffer.from(credentials).toString('base64')}`;
}

/** Percent-decoded, or as written when it is not valid percent-encoding. */
function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export interface ConnectRelay {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** How long the upstream proxy may take to open a tunnel. */
const TUNNEL_TIMEOUT_MS = 10_000;

/**
 * A CONNECT proxy on 127.0.0.1 that forwards tunnels to `target` (host:port, the only
 * destination it accepts: it holds Herald's proxy credentials) through `upstream`,
 * adding its credentials. node-apn can use a proxy but cannot authenticate to one;
 * pointing it here instead lets it go through an authenticating proxy.
 */
export async function startConnectRelay(upstream: URL, target: string): Promise<ConnectRelay> {
  const authorization = proxyAuthorization(upstream);
  const server: Server = createServer((_req, res) => res.writeHead(405).end());
  const tunnels = new Set<Socket>();
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    tunnels.add(client);
    client.on('close', () => tunnels.delete(client));
    client.on('error', () => client.destroy());
    if (req.url !== target) {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const outgoing = request({
      host: upstream.hostname,
      port: Number(upstream.port || 80),
      method: 'CONNECT',
      path: req.url,
      headers: { host: req.url ?? '', ...(authorization ? { 'proxy-authorization': authorization } : {}) },
      timeout: TUNNEL_TIMEOUT_MS,
    });
    outgoing.on('timeout', () => outgoing.destroy(new Error('the proxy did not open the tunnel in time')));
    // The client gave up (its own timeout): stop waiting for the tunnel.
    client.on('close', () => outgoing.destroy());
    outgoing.on('connect', (res, upstreamSocket, upstreamHead) => {
      tunnels.add(upstreamSocket);
      upstreamSocket.on('close', () => {
        tunnels.delete(upstreamSocket);
        client.destroy();
      });
      upstreamSocket.on('error', () => client.destroy());
      client.on('close', () => upstreamSocket.destroy());
      client.write(`HTTP/1.1 ${res.statusCode ?? 502} ${res.statusMessage ?? ''}\r\n\r\n`);
      if (res.statusCode !== 200) {
        client.end();
        upstreamSocket.destroy();
        return;
      }
      if (upstreamHead.length) client.write(upstreamHead);
      if (head.length) upstreamSocket.write(head);
      upstreamSocket.pipe(client);
      client.pipe(upstreamSocket);
    });
    outgoing.on('error', () => {
      client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
    });
    outgoing.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: '127.0.0.1',
    port,
    close: () =>
      new Promise((resolve) => {
        for (const socket of tunnels) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
