import Ajv2020 from 'ajv/dist/2020';
import responseSchema from '../fixtures/matrix-notify-response.schema.json';

/** The Matrix spec's requirements on a 200 notify response (test/fixtures/matrix-notify-response.schema.json). */
const validate = new Ajv2020({ strict: false }).compile(responseSchema);

/** Throws unless `body` is a valid 200 notify response according to the upstream spec. */
export function assertUpstreamNotifyResponse(body: unknown): void {
  if (!validate(body)) throw new Error(`response does not match the upstream schema: ${JSON.stringify(validate.errors)}`);
}
