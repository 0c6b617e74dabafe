import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** sysexits' EX_TEMPFAIL: a port still held by another process may be free on the next try. */
export const EXIT_LISTEN_BUSY = 75;
/** sysexits' EX_CONFIG: an address this host does not have, or a port it may not open. */
export const EXIT_LISTEN_CONFIG = 78;

/**
 * A listener that could not be opened, as one line naming the settings that chose its
 * address (so the operator knows which key to change) and the exit status it calls for.
 */
export class ListenError extends Error {
  readonly code = 'HERALD_ERR_LISTEN';
  constructor(
    message: string,
    /** EXIT_LISTEN_BUSY or EXIT_LISTEN_CONFIG. */
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'ListenError';
  }
}

/** The config keys that set a listener's address and port, e.g. `http.bind_addresses` and `http.port`. */
export interface ListenSettings {
  readonly address: string;
  readonly port: string;
}

export const NOTIFY_LISTENER: ListenSettings = { address: 'http.bind_addresses', port: 'http.port' };
export const METRICS_LISTENER: ListenSettings = { address: 'metrics.prometheus.address', port: 'metrics.prometheus.port' };

/**
 * Opens `server` on host:port; rejects with a ListenError naming `settings` when the
 * system refuses (port in use, no permission, an address this host does not have).
 */
export async function listenOn(server: Server, port: number, host: string, settings: ListenSettings): Promise<AddressInfo> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    throw listenError(err as NodeJS.ErrnoException, host, port, settings);
  }
  return server.address() as AddressInfo;
}

export function listenError(err: NodeJS.ErrnoException, host: string, port: number, settings: ListenSettings): ListenError {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const why = LISTEN_PROBLEMS[err.code ?? ''] ?? err.message;
  const busy = err.code === 'EADDRINUSE';
  return new ListenError(
    `cannot listen on ${where} (${settings.address}, ${settings.port}): ${why}${err.code ? ` (${err.code})` : ''}`,
    busy ? EXIT_LISTEN_BUSY : EXIT_LISTEN_CONFIG,
  );
}

const LISTEN_PROBLEMS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'another process is listening there (another Herald, or the previous one still stopping?)',
  EACCES: 'permission denied (a port below 1024 needs root or CAP_NET_BIND_SERVICE; use a higher port behind the reverse proxy)',
  EADDRNOTAVAIL: 'this host has no such address',
  ENOTFOUND: 'no such host name',
  EAI_AGAIN: 'the host name could not be resolved',
  EAFNOSUPPORT: 'this host does not support that address family',
};
