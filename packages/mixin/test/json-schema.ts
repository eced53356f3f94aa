// Validates a config against the shipped JSON Schema with Ajv (draft 2020-12), as editors do.
import { Ajv2020 } from 'ajv/dist/2020.js';

export function validateWithSchema(schema: Record<string, unknown>, config: unknown): string[] {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const validate = ajv.compile(schema);
  if (validate(config)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}
