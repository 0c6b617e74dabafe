import { subscribe } from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import { parse } from 'yaml';

/**
 * Every answer an in-process gateway writes is checked against openapi/herald.yaml as it
 * leaves, from the outside: Herald answers through its production path (writeHead/end),
 * and this watches the bytes it hands Node for each response, through Node's
 * `http.server.request.start` diagnostics channel (https://nodejs.org/api/diagnostics_channel.html#http).
 */

interface OpenApiResponse {
  readonly content?: Record<string, { readonly schema?: unknown }>;
}
interface OpenApiDocument {
  readonly paths: Record<string, Record<string, { readonly responses: Record<string, OpenApiResponse> }>>;
}

const document = parse(readFileSync(join(__dirname, '..', '..', 'openapi', 'herald.yaml'), 'utf8')) as OpenApiDocument;
// strict: false because an OpenAPI document carries keys JSON Schema does not know.
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema(document, 'herald');

/** JSON pointer escaping (RFC 6901). */
const pointer = (...parts: string[]): string => parts.map((part) => part.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

const compiled = new Map<string, ValidateFunction>();
function validatorAt(ref: string): ValidateFunction {
  let found = compiled.get(ref);
  if (!found) {
    found = ajv.getSchema(ref);
    if (!found) throw new Error(`openapi/herald.yaml has nothing at ${ref}`);
    compiled.set(ref, found);
  }
  return found;
}

/** An answer as the gateway wrote it. */
export interface WrittenAnswer {
  readonly method: string;
  /** The request target as sent (query string included). */
  readonly url: string;
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: string;
}

/**
 * What is wrong with `answer` by openapi/herald.yaml, or undefined: a documented
 * operation answers a documented status, with a documented media type and a body
 * matching that schema; anything else (unknown path or method) is a 404 or 405 Matrix
 * error, as the Push Gateway API says.
 */
export function undocumented(answer: WrittenAnswer): string | undefined {
  const path = answer.url.split('?')[0] ?? '';
  // Express routes "/x/" as "/x" (non-strict routing).
  const documentedPath = path in document.paths ? path : path.replace(/\/$/, '');
  const method = answer.method.toLowerCase();
  const operation = document.paths[documentedPath]?.[method];
  const mediaType = answer.contentType?.split(';')[0]?.trim().toLowerCase();
  let ref: string;
  if (operation) {
    const response = operation.responses[String(answer.status)];
    if (!response) return `status ${answer.status} is not documented for ${answer.method} ${documentedPath}`;
    if (!mediaType || !response.content?.[mediaType]) {
      return `${answer.status} answered with content-type ${String(answer.contentType)}, documented: ${Object.keys(response.content ?? {}).join(', ')}`;
    }
    ref = `herald#/${pointer('paths', documentedPath, method, 'responses', String(answer.status), 'content', mediaType, 'schema')}`;
  } else {
    if (answer.status !== 404 && answer.status !== 405) return `${answer.status} for an undocumented request`;
    if (mediaType !== 'application/json') return `${answer.status} answered with content-type ${String(answer.contentType)}`;
    ref = 'herald#/components/schemas/MatrixError';
  }
  if (method === 'head') return undefined;
  let body: unknown = answer.body;
  if (mediaType === 'application/json') {
    try {
      body = JSON.parse(answer.body);
    } catch {
      return `the body is not JSON: ${answer.body.slice(0, 200)}`;
    }
  }
  const validate = validatorAt(ref);
  if (!validate(body)) return `the body does not match ${ref.slice('herald#/'.length)}: ${ajv.errorsText(validate.errors)}; body: ${answer.body.slice(0, 500)}`;
  return undefined;
}

/** Answers found undocumented, per listening port being watched. */
const watched = new Map<number, string[]>();

subscribe('http.server.request.start', (message) => {
  const { request, response, server } = message as { request: IncomingMessage; response: ServerResponse; server: Server };
  const problems = watched.get((server.address() as AddressInfo | null)?.port ?? -1);
  if (!problems) return;
  const chunks: Buffer[] = [];
  const keep = (chunk: unknown, encoding: unknown): void => {
    if (typeof chunk === 'string') chunks.push(Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8'));
    else if (chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk));
  };
  let headContentType: string | undefined;
  // Observed, not changed: each call goes on to Node's own method with the same arguments.
  const { writeHead, write, end } = response;
  // Headers given to writeHead are not always kept where getHeader() finds them.
  response.writeHead = function (this: ServerResponse, ...args: Parameters<typeof writeHead>) {
    const headers = args.find((arg) => typeof arg === 'object' && arg !== null);
    if (headers && !Array.isArray(headers)) {
      const entry = Object.entries(headers).find(([name]) => name.toLowerCase() === 'content-type');
      if (entry) headContentType = String(entry[1]);
    }
    return writeHead.apply(this, args);
  } as typeof writeHead;
  response.write = function (this: ServerResponse, ...args: Parameters<typeof write>) {
    keep(args[0], args[1]);
    return write.apply(this, args);
  } as typeof write;
  response.end = function (this: ServerResponse, ...args: Parameters<typeof end>) {
    if (typeof args[0] !== 'function') keep(args[0], args[1]);
    return end.apply(this, args);
  } as typeof end;
  response.once('finish', () => {
    const header = response.getHeader('content-type') ?? headContentType;
    const answer: WrittenAnswer = {
      method: request.method ?? '',
      url: request.url ?? '',
      status: response.statusCode,
      contentType: header === undefined ? undefined : String(header),
      body: Buffer.concat(chunks).toString('utf8'),
    };
    const problem = undocumented(answer);
    if (problem) problems.push(`${answer.method} ${answer.url} → ${problem}`);
  });
});

/**
 * Checks every answer of the listeners on `ports` from now on; `stop()` stops, and
 * returns what was found undocumented.
 */
export function watchAnswers(ports: readonly number[]): { stop(): string[] } {
  const problems: string[] = [];
  for (const port of ports) watched.set(port, problems);
  return {
    stop: () => {
      for (const port of ports) if (watched.get(port) === problems) watched.delete(port);
      return problems;
    },
  };
}
