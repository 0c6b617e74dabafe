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

interface ValidatorErrorItem {
  path: string;
  message: string;
  errorCode?: string;
}

/** What body-parser and express-openapi-validator throw: a status, and a type or per-field errors. */
interface HttpishError {
  status?: number;
  type?: string;
  errors?: ValidatorErrorItem[];
  headers?: Record<string, string>;
  message?: string;
}

/** `/body/notification/devices/0/app_id` → `notification.devices[0].app_id`. */
export function fieldName(validatorPath: string): string {
  const parts = validatorPath.replace(/^\/?body\/?/, '').split('/').filter(Boolean);
  if (parts.length === 0) return 'the request body';
  return parts.reduce((name, part) => (/^\d+$/.test(part) ? `${name}[${part}]` : name ? `${name}.${part}` : part), '');
}

function describeValidation(items: ValidatorErrorItem[]): MatrixError {
  const missing = items.every((item) => item.errorCode?.startsWith('required'));
  const text = items
    .map((item) => {
      const field = fieldName(item.path);
      return item.errorCode?.startsWith('required') ? `${field}: required` : `${field}: ${item.message}`;
    })
    .join('; ');
  return new MatrixError(400, missing ? 'M_MISSING_PARAM' : 'M_BAD_JSON', text);
}

/** Turns whatever reached the error handler into the Matrix error to answer. */
export function toMatrixError(err: unknown): MatrixError | undefined {
  if (err instanceof MatrixError) return err;
  const e = err as HttpishError;
  if (e?.type === 'entity.parse.failed') return new MatrixError(400, 'M_NOT_JSON', 'the request body is not valid JSON');
  if (e?.type === 'entity.too.large' || e?.status === 413) {
    return new MatrixError(413, 'M_TOO_LARGE', 'the request body is larger than this gateway accepts');
  }
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') {
    return new MatrixError(415, 'M_NOT_JSON', e.message ?? 'unsupported body encoding');
  }
  switch (e?.status) {
    case 400:
      return e.errors?.length ? describeValidation(e.errors) : new MatrixError(400, 'M_BAD_JSON', e.message ?? 'bad request');
    case 404:
      return new MatrixError(404, 'M_UNRECOGNIZED', 'unrecognized request');
    case 405:
      return new MatrixError(405, 'M_UNRECOGNIZED', 'method not allowed', e.headers ?? {});
    case 415:
      return new MatrixError(415, 'M_NOT_JSON', 'the request body must be application/json');
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
