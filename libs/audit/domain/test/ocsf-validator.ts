import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'ocsf-1.3.0');
const load = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>;

/** Validators of the OCSF 1.3.0 classes the SIEM feed emits, by class_uid. */
export function ocsfValidators(): Record<number, ValidateFunction> {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
  ajv.addSchema(load('objects.schema.json'));
  return {
    3001: ajv.compile(load('account_change.schema.json')),
    3005: ajv.compile(load('user_access.schema.json')),
    3006: ajv.compile(load('group_management.schema.json')),
    2003: ajv.compile(load('compliance_finding.schema.json')),
  };
}
