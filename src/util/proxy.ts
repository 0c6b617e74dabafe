import { request, type IncomingMessage } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { EnvironmentError } from '../config/section';

/**
 * The outbound proxy: the config's `proxy`, else HTTPS_PROXY / https_proxy; hosts
 * listed in NO_PROXY / no_proxy (names, `.domain` suffixes, `host:port`, or `*`) go direct.
 * HTTP_PROXY / http_proxy are not used: every upstream is reached over TLS.
 *
 * A variable comes from the machine's environment, not from Herald's configuration, and
 * may be meant for other programs: one that is not a usable proxy URL is an error only
 * where a connection would go through it (`for` throws EnvironmentError, naming it).
 */
export class ProxySettings {
  private constructor(
    private readonly url: URL | undefined,
    private readonly noProxy: readonly string[],
    /** Why the environment's proxy cannot be used (naming the variable), when it cannot. */
    readonly problem?: string,
  ) {}

  static resolve(configProxy: string | undefined, env: NodeJS.ProcessEnv = process.env): ProxySettings | undefined {
    const variable = configProxy !== undefined ? undefined : env.HTTPS_PROXY !== undefined ? 'HTTPS_PROXY' : 'https_proxy';
    const value = configProxy ?? env.HTTPS_PROXY ?? env.https_proxy;
    if (!value) return undefined;
    const noProxy = (env.NO_PROXY ?? env.no_proxy ?? '')
      .split(',')
      .map((entry) => entry.trim().toLowerCase())
      .filter(Boolean);
    const problem = proxyUrlProblem(value);
    // The config's own `proxy` was checked with the rest of the file.
    if (problem !== undefined && variable !== undefined) return new ProxySettings(undefined, noProxy, `${variable} (environment variable): ${problem}`);
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
    if (bypass) return undefined;
    if (this.url === undefined) throw new EnvironmentError([this.problem ?? 'the proxy URL is not usable']);
    return this.url.href;
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

export interface TunnelRelay {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** How long the upstream proxy may take to open a tunnel. */
const TUNNEL_TIMEOUT_MS = 10_000;

/**
 * A TCP listener on 127.0.0.1 that carries each connection it accepts to `target`
 * (host:port, the only destination: it holds Herald's proxy credentials) through an HTTP
 * CONNECT tunnel opened on `proxy`, with the proxy's basic credentials when its URL has
 * them. A client that connects here runs its own TLS inside the tunnel, end to end with
 * the target, with its own settings (client certificate, CAs, SNI): the proxy sees only
 * ciphertext. `onProblem` hears why a tunnel could not be opened (refused, unreachable).
 */
export async function startTunnelRelay(proxy: URL, target: string, onProblem: (problem: string) => void): Promise<TunnelRelay> {
  const authorization = proxyAuthorization(proxy);
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  // Paused until the tunnel is open: what the client sends first (its TLS hello) waits for it.
  const server: NetServer = createNetServer({ pauseOnConnect: true }, (client) => {
    track(client);
    client.on('error', () => client.destroy());
    const connect = request({
      host: proxy.hostname.replace(/^\[|\]$/g, ''),
      port: Number(proxy.port || 80),
      method: 'CONNECT',
      path: target,
      headers: { host: target, ...(authorization ? { 'proxy-authorization': authorization } : {}) },
      timeout: TUNNEL_TIMEOUT_MS,
    });
    connect.on('timeout', () => connect.destroy(new Error(`no answer within ${TUNNEL_TIMEOUT_MS} ms`)));
    // The client gave up (its own timeout): stop waiting for the tunnel.
    client.on('close', () => connect.destroy());
    connect.on('connect', (res: IncomingMessage, upstream: Socket, head: Buffer) => {
      track(upstream);
      upstream.on('error', () => client.destroy());
      upstream.on('close', () => client.destroy());
      client.on('close', () => upstream.destroy());
      if (res.statusCode !== 200) {
        onProblem(`the proxy answered ${res.statusCode ?? '?'} ${res.statusMessage ?? ''} to CONNECT ${target}`.trimEnd());
        upstream.destroy();
        return;
      }
      // The timeout was for opening the tunnel; the connection inside may idle (HTTP/2 pings).
      upstream.setTimeout(0);
      if (head.length) client.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    connect.on('error', (err) => {
      if (!client.destroyed) onProblem(`cannot open a tunnel to ${target} through the proxy: ${err.message}`);
      client.destroy();
    });
    connect.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: '127.0.0.1',
    port,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
