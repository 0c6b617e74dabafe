import assert from 'node:assert/strict';
import { error as validatorErrors } from 'express-openapi-validator';
import { fieldName, isClientGone, MatrixError, toMatrixError } from '../../../src/http/errors';

/** What body-parser throws: an http-errors error (client errors are marked `expose`). */
function createHttpError(status: number, message: string, props: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { status, statusCode: status, expose: status < 500 }, props);
}

describe('http/errors', () => {
  describe('fieldName', () => {
    const cases: Array<[string, string]> = [
      ['/body/notification/devices/0/app_id', 'notification.devices[0].app_id'],
      ['/body/notification', 'notification'],
      ['/body', 'the request body'],
      ['', 'the request body'],
      ['/query/since', 'query.since'],
      ['/body/notification/devices/12', 'notification.devices[12]'],
    ];
    for (const [pointer, name] of cases) it(`${JSON.stringify(pointer)} → ${name}`, () => assert.equal(fieldName(pointer), name));
  });

  describe('toMatrixError', () => {
    const badRequest = (errors: Array<{ path: string; message: string; errorCode: string }>) => {
      const err = new validatorErrors.BadRequest({ path: '/_matrix/push/v1/notify', message: 'invalid' });
      err.errors = errors;
      return err;
    };
    const cases: Array<[string, unknown, { status: number; errcode: string; error?: string | RegExp; headers?: Record<string, string> } | undefined]> = [
      [
        'a missing field',
        badRequest([{ path: '/body/notification/devices/0/app_id', message: "must have required property 'app_id'", errorCode: 'required.openapi.validation' }]),
        { status: 400, errcode: 'M_MISSING_PARAM', error: 'notification.devices[0].app_id: required' },
      ],
      [
        'a field of the wrong type',
        badRequest([{ path: '/body/notification/counts/unread', message: 'must be integer,null', errorCode: 'type.openapi.validation' }]),
        { status: 400, errcode: 'M_BAD_JSON', error: 'notification.counts.unread: must be integer,null' },
      ],
      [
        'a missing field and a wrong one',
        badRequest([
          { path: '/body/notification/devices/0/pushkey', message: "must have required property 'pushkey'", errorCode: 'required.openapi.validation' },
          { path: '/body/notification/prio', message: 'must be equal to one of the allowed values', errorCode: 'enum.openapi.validation' },
        ]),
        { status: 400, errcode: 'M_BAD_JSON', error: 'notification.devices[0].pushkey: required; notification.prio: must be equal to one of the allowed values' },
      ],
      ['an unknown path', new validatorErrors.NotFound({ path: '/x' }), { status: 404, errcode: 'M_UNRECOGNIZED', error: 'unrecognized request' }],
      [
        'a wrong method',
        new validatorErrors.MethodNotAllowed({ path: '/health', headers: { Allow: 'GET' } }),
        { status: 405, errcode: 'M_UNRECOGNIZED', headers: { allow: 'GET' } },
      ],
      ['malformed JSON', createHttpError(400, 'Unexpected token', { type: 'entity.parse.failed' }), { status: 400, errcode: 'M_NOT_JSON' }],
      [
        'a body over the limit',
        createHttpError(413, 'request entity too large', { type: 'entity.too.large', limit: 1024 }),
        { status: 413, errcode: 'M_TOO_LARGE', error: /1024 bytes/, headers: { connection: 'close' } },
      ],
      ['an unsupported Content-Encoding', createHttpError(415, 'unsupported content encoding "zstd"', { type: 'encoding.unsupported' }), { status: 415, errcode: 'M_NOT_JSON' }],
      ['a corrupt gzip body', createHttpError(400, 'incorrect header check'), { status: 400, errcode: 'M_NOT_JSON', error: /incorrect header check/ }],
      ['our own MatrixError', new MatrixError(404, 'M_UNRECOGNIZED', 'x'), { status: 404, errcode: 'M_UNRECOGNIZED', error: 'x' }],
      ['a bug of ours', new TypeError('cannot read x of undefined'), undefined],
      ['a server-side http error', createHttpError(500, 'boom'), undefined],
    ];
    for (const [name, err, expected] of cases) {
      it(`maps ${name}`, () => {
        const matrixError = toMatrixError(err);
        if (!expected) {
          assert.equal(matrixError, undefined);
          return;
        }
        assert.ok(matrixError);
        assert.equal(matrixError.status, expected.status);
        assert.equal(matrixError.errcode, expected.errcode);
        if (typeof expected.error === 'string') assert.equal(matrixError.message, expected.error);
        else if (expected.error) assert.match(matrixError.message, expected.error);
        if (expected.headers) assert.deepEqual(matrixError.headers, expected.headers);
        assert.deepEqual(Object.keys(matrixError.toJSON()), ['errcode', 'error']);
      });
    }
  });

  it('tells a client that hung up from a bad request', () => {
    assert.equal(isClientGone(createHttpError(400, 'request aborted', { type: 'request.aborted' })), true);
    assert.equal(isClientGone(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })), true);
    assert.equal(isClientGone(createHttpError(400, 'x', { type: 'entity.parse.failed' })), false);
    assert.equal(isClientGone(undefined), false);
  });
});
