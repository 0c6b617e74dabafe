import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { parse } from 'yaml';

/** The Matrix spec's own schema of a 200 notify response (shared/matrix-spec/push_notifier.yaml). */
const specPath = join(__dirname, '..', '..', '..', 'shared', 'matrix-spec', 'push_notifier.yaml');

interface SpecDoc {
  paths: { '/notify': { post: { responses: { '200': { content: { 'application/json': { schema: object } } } } } } };
}

const spec = parse(readFileSync(specPath, 'utf8')) as SpecDoc;
const validate = new Ajv2020({ strict: false }).compile(spec.paths['/notify'].post.responses['200'].content['application/json'].schema);

/** Throws unless `body` is a valid 200 notify response according to the upstream spec. */
export function assertUpstreamNotifyResponse(body: unknown): void {
  if (!validate(body)) throw new Error(`response does not match the upstream schema: ${JSON.stringify(validate.errors)}`);
}
