import type { RequestHandler } from 'express';
import { MatrixError } from './errors';

/**
 * How much of a body over `http.max_body_bytes` Herald reads and drops so that its 413
 * reaches the client: a client still sending when the connection closes gets a reset
 * instead of the answer. Past this, the connection is cut.
 */
export const OVERSIZE_DISCARD_BYTES = 1024 * 1024;

/** What the error handler takes for a client gone (see isClientGone): nothing to answer. */
function cutOff(): Error {
  return Object.assign(new Error('request body past the discard bound; connection closed'), { code: 'ECONNABORTED' });
}

/**
 * Before express.json(): bodies over `maxBodyBytes` are read and dropped, up to
 * OVERSIZE_DISCARD_BYTES more, before the 413 is answered (with `connection: close`).
 * A declared Content-Length is handled here (past the bound, the 413 goes out at once,
 * and a client still sending may see a reset instead); a chunked body is read by
 * express.json(), which refuses it past the limit and reads the rest, so here it is only
 * counted, and cut off past the bound.
 */
export function oversizeBodies(maxBodyBytes: number): RequestHandler {
  const bound = maxBodyBytes + OVERSIZE_DISCARD_BYTES;
  const tooLarge = () =>
    new MatrixError(413, 'M_TOO_LARGE', `the request body is larger than this gateway accepts (${maxBodyBytes} bytes)`, { connection: 'close' });

  return (req, _res, next) => {
    const header = req.headers['content-length'];
    // Node's parser has refused a malformed or duplicated Content-Length already.
    const declared = header === undefined ? undefined : Number(header);
    if (declared !== undefined && declared <= maxBodyBytes) {
      next();
      return;
    }
    if (declared !== undefined && declared > bound) {
      // It will not fit in the bound: answered at once, and the connection closed.
      next(tooLarge());
      return;
    }
    let seen = 0;
    let settled = false;
    // The 'end', 'error' and past-the-bound paths each settle, the first one only.
    const settle = (err: Error) => {
      if (settled) return;
      settled = true;
      next(err);
    };
    const count = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen <= bound) return;
      req.off('data', count);
      if (declared !== undefined) settle(cutOff());
      req.socket.destroy();
    };
    // Added before express.json() adds its own listener, in the same tick: both see every chunk.
    req.on('data', count);
    if (declared === undefined) {
      next();
      return;
    }
    req.once('end', () => {
      req.off('data', count);
      settle(tooLarge());
    });
    req.once('error', () => settle(cutOff()));
  };
}
