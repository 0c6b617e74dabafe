import type { ErrorRequestHandler } from 'express';
import type { Logger } from '../util/log';

/** Matrix error codes Herald answers with. */
export type MatrixErrcode = 'M_NOT_JSON' | 'M_BAD_JSON' | 'M_MISSING_PARAM' | 'M_TOO_LARGE' | 'M_UNRECOGNIZED' | 'M_UNKNOWN';

/** An error that is rendered as `{errcode, error}` with its status. */
export class MatrixError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: MatrixErrcode,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'MatrixError';
  }

  toJSON(): { errcode: MatrixErrcode; error: string } {
    return { errcode: this.errcode, error: this.message };
  }
}

/** What express-openapi-validator throws: a status, and for 405 the Allow header. */
interface HttpishError {
  status?: number;
  headers?: Record<string, string>;
}

/** Turns whatever reached the error handler into the Matrix error to answer. */
export function toMatrixError(err: unknown): MatrixError | undefined {
  if (err instanceof MatrixError) return err;
  const e = err as HttpishError | undefined;
  switch (e?.status) {
    case 404:
      return new MatrixError(404, 'M_UNRECOGNIZED', 'unrecognized request');
    case 405:
      return new MatrixError(405, 'M_UNRECOGNIZED', 'method not allowed', e.headers ?? {});
    default:
      return undefined;
  }
}

/** The last middleware: Matrix JSON for everything; a 500 only for Herald's own bugs, and it leaks nothing. */
export function errorMiddleware(log: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const matrixError = toMatrixError(err) ?? new MatrixError(500, 'M_UNKNOWN', 'internal server error');
    if (matrixError.status >= 500) log.error({ err, method: req.method, path: req.path }, 'request failed');
    else log.debug({ status: matrixError.status, error: matrixError.message, path: req.path }, 'request refused');
    res.status(matrixError.status).set(matrixError.headers).json(matrixError);
  };
}
