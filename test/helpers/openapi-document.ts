import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { parse } from 'yaml';

/**
 * express-openapi-validator checks Herald's 2xx and 4xx answers against
 * openapi/herald.yaml in tests, but leaves every 5xx body alone; the 502 with
 * per-device outcomes is checked against the same document here.
 */
const document = parse(readFileSync(join(__dirname, '..', '..', 'openapi', 'herald.yaml'), 'utf8')) as object;
// strict: false because an OpenAPI document carries keys JSON Schema does not know.
const ajv = new Ajv2020({ strict: false });
ajv.addSchema(document, 'herald');
const notifyFailure = ajv.getSchema('herald#/components/schemas/NotifyFailure');

/** Throws unless `body` is a 502 notify answer as openapi/herald.yaml describes it. */
export function assertDocumentedNotifyFailure(body: unknown): void {
  if (!notifyFailure) throw new Error('openapi/herald.yaml has no components.schemas.NotifyFailure');
  if (!notifyFailure(body)) throw new Error(`502 answer does not match openapi/herald.yaml: ${JSON.stringify(notifyFailure.errors)}`);
}
