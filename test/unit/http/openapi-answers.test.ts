import assert from 'node:assert/strict';
import { undocumented, type WrittenAnswer } from '../../helpers/openapi-document';

/** The check every in-process gateway's answers go through (test/helpers/openapi-document.ts). */
describe('answers checked against openapi/herald.yaml', () => {
  const NOTIFY = '/_matrix/push/v1/notify';
  const json = 'application/json';
  const answer = (fields: Partial<WrittenAnswer>): WrittenAnswer => ({ method: 'POST', url: NOTIFY, status: 200, contentType: json, body: '{"rejected":[]}', ...fields });

  const CASES: Array<[string, Partial<WrittenAnswer>, RegExp | undefined]> = [
    ['a 200 with nothing rejected', {}, undefined],
    ['a 200 with a charset, a query and a trailing slash', { url: `${NOTIFY}/?since=1`, contentType: 'application/json; charset=utf-8' }, undefined],
    ['a 200 rejecting a number', { body: '{"rejected":[1]}' }, /rejected\/0 must be string/],
    ['a 200 without rejected', { body: '{}' }, /must have required property 'rejected'/],
    ['a 200 as text', { contentType: 'text/plain' }, /content-type text\/plain/],
    ['a body that is not JSON', { body: '{"rejected":' }, /not JSON/],
    ['a 400 Matrix error', { status: 400, body: '{"errcode":"M_BAD_JSON","error":"notification.devices"}' }, undefined],
    ['a 400 without errcode', { status: 400, body: '{"error":"x"}' }, /errcode/],
    ['a 429 without retry_after_ms', { status: 429, body: '{"errcode":"M_LIMIT_EXCEEDED","error":"slow down"}' }, /retry_after_ms/],
    ['a 502 with device outcomes', { status: 502, body: '{"errcode":"M_UNKNOWN","error":"e","rejected":[],"devices":[{"app_id":"a","pushkey":"p","outcome":"retry","retry_after_ms":2000}]}' }, undefined],
    ['a 502 with an unknown outcome', { status: 502, body: '{"errcode":"M_UNKNOWN","error":"e","rejected":[],"devices":[{"app_id":"a","pushkey":"p","outcome":"lost"}]}' }, /outcome/],
    ['a 500 Matrix error (a bug of Herald\'s)', { status: 500, body: '{"errcode":"M_UNKNOWN","error":"internal server error"}' }, undefined],
    ['a 500 that is not Matrix JSON', { status: 500, body: '{"error":"internal server error"}' }, /errcode/],
    ['a 503', { status: 503, body: '{"errcode":"M_UNKNOWN","error":"unavailable"}' }, /status 503 is not documented/],
    ['the health text', { method: 'GET', url: '/health', contentType: 'text/plain; charset=utf-8', body: 'OK, herald 0.1.0' }, undefined],
    ['a 404 Matrix error for an unknown path', { url: '/nowhere', status: 404, body: '{"errcode":"M_UNRECOGNIZED","error":"unrecognized request"}' }, undefined],
    ['a 405 Matrix error for a wrong method', { method: 'GET', status: 405, body: '{"errcode":"M_UNRECOGNIZED","error":"x"}' }, undefined],
    ['a 404 that is not Matrix JSON', { url: '/nowhere', status: 404, contentType: 'text/html', body: '<p>no</p>' }, /content-type text\/html/],
    ['a 200 for an unknown path', { url: '/nowhere' }, /200 for an undocumented request/],
  ];
  for (const [name, fields, expected] of CASES) {
    it(`${expected ? 'refuses' : 'accepts'} ${name}`, () => {
      const problem = undocumented(answer(fields));
      if (expected) assert.match(problem ?? '(accepted)', expected);
      else assert.equal(problem, undefined);
    });
  }
});
