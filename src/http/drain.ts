import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';

/** A connection that has had no request for this long is taken as unused and closed at shutdown. */
const IDLE_CLOSE_MS = 1_000;
/** How often the idle connections are looked at while draining. */
const IDLE_CHECK_MS = 50;

interface ConnectionState {
  /** Requests on this connection not answered yet. */
  busy: number;
  /** When its last answer finished (or it opened). */
  idleSince: number;
}

/**
 * Shuts an HTTP listener down without resetting connections a client may be using.
 *
 * Node's `server.close()` destroys every keep-alive connection that is idle at that
 * instant, while the answers already sent told clients to reuse them: a client sending
 * its next request just then sees ECONNRESET. Instead, from `drain()` on, every answer
 * (those in progress included) carries `Connection: close`, so Node ends each connection
 * after its answer and the client opens no new request on it; requests arriving on a
 * connection meanwhile are still served. A connection that carries no request for
 * IDLE_CLOSE_MS is ended (FIN, not RST); whatever is left at the grace period's end is cut.
 */
export class ConnectionDrain {
  private readonly connections = new Map<Socket, ConnectionState>();
  private readonly unanswered = new Set<ServerResponse>();
  private draining = false;

  constructor(private readonly server: Server) {
    server.on('connection', (socket: Socket) => {
      this.connections.set(socket, { busy: 0, idleSince: Date.now() });
      socket.once('close', () => this.connections.delete(socket));
    });
    // Before the application's listener, so a synchronous answer carries the header too.
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      const state = this.connections.get(req.socket);
      if (state) state.busy++;
      this.unanswered.add(res);
      if (this.draining) res.setHeader('connection', 'close');
      res.once('close', () => {
        this.unanswered.delete(res);
        if (state) {
          state.busy--;
          state.idleSince = Date.now();
        }
      });
    });
  }

  /** Stops accepting connections and resolves once every connection is closed (cut after `graceMs`). */
  drain(graceMs: number): Promise<void> {
    this.draining = true;
    for (const res of this.unanswered) if (!res.headersSent) res.setHeader('connection', 'close');
    return new Promise((resolve) => {
      const closeUnused = () => {
        const now = Date.now();
        for (const [socket, state] of this.connections) {
          if (state.busy === 0 && now - state.idleSince >= IDLE_CLOSE_MS) socket.end();
        }
      };
      const poll = setInterval(closeUnused, IDLE_CHECK_MS);
      const force = setTimeout(() => this.server.closeAllConnections(), graceMs);
      // net's close, not http's: http's would destroy the idle connections at once.
      NetServer.prototype.close.call(this.server, () => {
        clearInterval(poll);
        clearTimeout(force);
        resolve();
      });
      closeUnused();
    });
  }
}
