import { readFileSync } from 'node:fs';
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import { parse } from 'yaml';
import { resourcePath } from '../util/resources';

/** Our OpenAPI document: the one description of the API, for the validators and for readers. */
export const OPENAPI_PATH = resourcePath('openapi/herald.yaml');

/**
 * The JSON Schemas of our OpenAPI document (3.1, so JSON Schema 2020-12), compiled once
 * with ajv. The notify endpoint validates with these directly: the request's shape and
 * the field named in an error come from the same document as the docs.
 */
export class ApiSchemas {
  readonly notifyRequest: ValidateFunction;
  readonly notifyResponse: ValidateFunction;
  readonly notifyFailure: ValidateFunction;

  constructor(path: string = OPENAPI_PATH) {
    const document = parse(readFileSync(path, 'utf8')) as object;
    // strict: false because an OpenAPI document carries keys JSON Schema does not know.
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    ajv.addSchema(document, 'herald');
    const compile = (name: string): ValidateFunction => {
      const validate = ajv.getSchema(`herald#/components/schemas/${name}`);
      if (!validate) throw new Error(`${path} has no components.schemas.${name}`);
      return validate;
    };
    this.notifyRequest = compile('NotifyRequest');
    this.notifyResponse = compile('NotifyResponse');
    this.notifyFailure = compile('NotifyFailure');
  }
}

/** `/notification/devices/0/app_id` → `notification.devices[0].app_id`. */
export function fieldName(pointer: string): string {
  const parts = pointer.split('/').filter(Boolean);
  if (parts.length === 0) return 'the request body';
  return parts.reduce((name, part) => (/^\d+$/.test(part) ? `${name}[${part}]` : name ? `${name}.${part}` : part), '');
}

/** One line per problem, each naming its field; and whether every problem is a missing field. */
export function describeSchemaErrors(errors: readonly ErrorObject[]): { text: string; onlyMissing: boolean } {
  const lines = errors.map((error) => {
    if (error.keyword === 'required') {
      const missing = (error.params as { missingProperty: string }).missingProperty;
      return `${fieldName(`${error.instancePath}/${missing}`)}: required`;
    }
    const allowed = error.keyword === 'enum' ? ` (${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')})` : '';
    return `${fieldName(error.instancePath)}: ${error.message ?? 'invalid'}${allowed}`;
  });
  return { text: [...new Set(lines)].join('; '), onlyMissing: errors.every((error) => error.keyword === 'required') };
}
