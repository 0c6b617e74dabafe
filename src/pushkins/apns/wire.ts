import type { ClientHttp2Session, ClientSessionRequestOptions, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';

/**
 * Reading answers off the wire. node-apn reads `Retry-After` with the wrong
 * capitalisation and then deletes it, reports a 500 or 403 with an empty body
 * without its status, and replaces some reasons with its own messages. Its Client
 * sends every request through `request(session, …)`; wrapping that lets us wrap
 * the session's `request` once, and so see each stream's response headers and body,
 * matched to our request by the apns-id header we set. These are internals of
 * @parse/node-apn 8.x, hence the defensive checks: if they change, Herald still
 * works from node-apn's own (poorer) report.
 */

/** What came back on one stream, filled in as it arrives. */
export interface Observed {
  headers: IncomingHttpHeaders;
  body: string;
}

const MAX_BODY_CHARS = 4_096;

type ClientRequest = (session: ClientHttp2Session, ...rest: unknown[]) => Promise<unknown>;

/**
 * Wraps each node-apn client inside `provider` so that the answer to every request
 * whose apns-id `lookup` knows is recorded there. False if node-apn's internals are
 * not what this expects (nothing is wrapped then).
 */
export function watchAnswers(provider: object, lookup: (apnsId: string) => Observed | undefined): boolean {
  const root = (provider as { client?: { clients?: unknown; request?: unknown } }).client;
  const clients = (Array.isArray(root?.clients) ? root.clients : [root]) as Array<{ request?: unknown } | undefined>;
  if (clients.some((client) => typeof client?.request !== 'function')) return false;
  for (const client of clients as Array<{ request: ClientRequest }>) {
    const original = client.request;
    client.request = function (this: unknown, session: ClientHttp2Session, ...rest: unknown[]) {
      watchSession(session, lookup);
      return original.call(this, session, ...rest);
    };
  }
  return true;
}

const watchedSessions = new WeakSet<ClientHttp2Session>();

function watchSession(session: ClientHttp2Session | undefined, lookup: (apnsId: string) => Observed | undefined): void {
  if (!session || typeof session.request !== 'function' || watchedSessions.has(session)) return;
  watchedSessions.add(session);
  const request = session.request.bind(session);
  const watched = (headers?: OutgoingHttpHeaders, options?: ClientSessionRequestOptions) => {
    const stream = request(headers, options);
    const apnsId = headers?.['apns-id'];
    const entry = typeof apnsId === 'string' ? lookup(apnsId) : undefined;
    if (entry) {
      stream.once('response', (responseHeaders) => (entry.headers = responseHeaders));
      // APNs error bodies are a few dozen bytes; don't buffer whatever a relay might send.
      stream.on('data', (chunk: Buffer | string) => {
        if (entry.body.length < MAX_BODY_CHARS) entry.body += chunk.toString();
      });
    }
    return stream;
  };
  session.request = watched as ClientHttp2Session['request'];
}

/** The `reason` of an APNs error body, if it has one. */
export function reasonFromBody(body: string | undefined): string | undefined {
  if (!body) return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    const reason = (parsed as { reason?: unknown } | null)?.reason;
    return typeof reason === 'string' ? reason : undefined;
  } catch {
    return undefined;
  }
}
