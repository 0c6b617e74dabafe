import { error as validatorErrors } from 'express-openapi-validator';

/** Matrix error codes Herald answers with. */
export type MatrixErrcode =
  | 'M_NOT_JSON'
  | 'M_BAD_JSON'
  | 'M_MISSING_PARAM'
  | 'M_TOO_LARGE'
  | 'M_UNRECOGNIZED'
  | 'M_FORBIDDEN'
  | 'M_LIMIT_EXCEEDED'
  | 'M_UNKNOWN';

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

/** 429 as Matrix servers answer it: `retry_after_ms` in the body, and Retry-After (seconds). */
export class RateLimitedError extends MatrixError {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(429, 'M_LIMIT_EXCEEDED', message, { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) });
    this.name = 'RateLimitedError';
  }

  override toJSON(): { errcode: MatrixErrcode; error: string; retry_after_ms: number } {
    return { ...super.toJSON(), retry_after_ms: this.retryAfterMs };
  }
}

/** What body-parser throws (http-errors with a `type`). */
interface BodyParserError {
  type?: unknown;
  limit?: unknown;
  code?: unknown;
  status?: unknown;
  /** http-errors' mark of a client error whose message may be shown. */
  expose?: unknown;
}

/** One problem express-openapi-validator found: `path` is a JSON pointer into `{body, query, …}`. */
interface ValidationProblem {
  path: string;
  message: string;
  errorCode?: string;
}

/**
 * The homeserver went away before sending the whole body: there is nobody to answer
 * and nothing to count as Herald's error.
 */
export function isClientGone(err: unknown): boolean {
  const { type, code } = (err ?? {}) as BodyParserError;
  return type === 'request.aborted' || code === 'ECONNRESET' || code === 'ECONNABORTED';
}

/**
 * Turns what reached the error handler (body-parser's and express-openapi-validator's
 * errors, our own MatrixErrors) into the Matrix error to answer; undefined for
 * anything else, which is a bug of ours.
 */
export function toMatrixError(err: unknown): MatrixError | undefined {
  if (err instanceof MatrixError) return err;
  if (err instanceof validatorErrors.BadRequest) return fromValidation(err.errors);
  if (err instanceof validatorErrors.NotFound) return new MatrixError(404, 'M_UNRECOGNIZED', 'unrecognized request');
  if (err instanceof validatorErrors.MethodNotAllowed) {
    const allow = err.headers?.Allow;
    return new MatrixError(405, 'M_UNRECOGNIZED', 'method not allowed', allow ? { allow } : {});
  }
  const { type, limit, status, expose } = (err ?? {}) as BodyParserError;
  switch (type) {
    case 'entity.parse.failed':
      return new MatrixError(400, 'M_NOT_JSON', 'the request body is not valid JSON');
    case 'entity.too.large':
      // The rest of the body is never read, so the connection cannot carry another request.
      return new MatrixError(413, 'M_TOO_LARGE', `the request body is larger than this gateway accepts (${String(limit)} bytes)`, { connection: 'close' });
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new MatrixError(415, 'M_NOT_JSON', (err as Error).message);
    case 'request.size.invalid':
      return new MatrixError(400, 'M_NOT_JSON', 'the request body is shorter or longer than its Content-Length');
    default:
      // Other unreadable bodies (a corrupt gzip stream, say) are the caller's, never a 500.
      if (expose === true && typeof status === 'number' && status >= 400 && status < 500) {
        return new MatrixError(400, 'M_NOT_JSON', `the request body could not be read: ${(err as Error).message}`);
      }
      return undefined;
  }
}

/** M_MISSING_PARAM when every problem is a missing field, else M_BAD_JSON; `error` names each field. */
function fromValidation(problems: readonly ValidationProblem[]): MatrixError {
  const lines = problems.map((problem) => {
    const missing = problem.errorCode?.startsWith('required.') ?? false;
    return `${fieldName(problem.path)}: ${missing ? 'required' : problem.message}`;
  });
  const onlyMissing = problems.length > 0 && problems.every((problem) => problem.errorCode?.startsWith('required.'));
  return new MatrixError(400, onlyMissing ? 'M_MISSING_PARAM' : 'M_BAD_JSON', [...new Set(lines)].join('; ') || 'the request does not match the API');
}

/** `/body/notification/devices/0/app_id` → `notification.devices[0].app_id`; other parts keep their section (`query.x`). */
export function fieldName(pointer: string): string {
  const parts = pointer.split('/').filter(Boolean);
  if (parts[0] === 'body') parts.shift();
  if (parts.length === 0) return 'the request body';
  return parts.reduce((name, part) => (/^\d+$/.test(part) ? `${name}[${part}]` : name ? `${name}.${part}` : part), '');
}
