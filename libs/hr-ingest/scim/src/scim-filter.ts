import { parse, type Filter } from 'scim2-parse-filter';
import { URN } from './scim-constants.js';
import { ScimError } from './scim-error.js';

/** What a filterable SCIM attribute means in hr-ingest's person record. */
export interface FilterField {
  /** id, externalId, active, created, lastModified, or a canonical attribute name. */
  name: string;
  type: 'string' | 'boolean' | 'dateTime';
  caseExact: boolean;
}

export type CompareOp = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'lt' | 'ge' | 'le';

/** A SCIM filter whose attribute paths are resolved to person fields. */
export type ResolvedFilter =
  | { op: 'and' | 'or'; filters: ResolvedFilter[] }
  | { op: 'not'; filter: ResolvedFilter }
  | { op: 'pr'; field: FilterField }
  | { op: CompareOp; field: FilterField; value: string | number | boolean | null }
  | { op: 'const'; value: boolean };

const s = (name: string, caseExact = false): FilterField => ({ name, type: 'string', caseExact });
const FIELDS: Record<string, FilterField> = {
  id: s('id', true),
  externalid: s('externalId', true),
  username: s('userName'),
  'name.givenname': s('givenName'),
  'name.familyname': s('familyName'),
  'name.formatted': s('displayName'),
  displayname: s('displayName'),
  title: s('jobTitle'),
  usertype: s('workerType'),
  active: { name: 'active', type: 'boolean', caseExact: false },
  emails: s('email'),
  'emails.value': s('email'),
  'addresses.country': s('countryCode'),
  'meta.created': { name: 'created', type: 'dateTime', caseExact: false },
  'meta.lastmodified': { name: 'lastModified', type: 'dateTime', caseExact: false },
  employeenumber: s('employeeNumber'),
  costcenter: s('costCenter'),
  organization: s('organization'),
  division: s('division'),
  department: s('department'),
  manager: s('managerPersonId', true),
  'manager.value': s('managerPersonId', true),
  status: s('status'),
  hiredate: s('hireDate'),
  terminationdate: s('terminationDate'),
  company: s('company'),
  location: s('location'),
  onleave: { name: 'onLeave', type: 'boolean', caseExact: false },
};
// Sub-attributes whose value is the same for every rendered item (emails and addresses are
// rendered as one primary work value).
const CONSTANTS: Record<string, string | boolean> = { 'emails.type': 'work', 'emails.primary': true, 'addresses.type': 'work', 'addresses.primary': true };
const PREFIXES = [URN.user, URN.enterprise, URN.hr].map((u) => `${u.toLowerCase()}:`);

function unqualified(path: string): string {
  const l = path.toLowerCase();
  for (const p of PREFIXES) if (l.startsWith(p)) return l.slice(p.length);
  return l;
}

function compareConstant(op: CompareOp, a: string | boolean, b: unknown): boolean {
  const x = typeof a === 'string' ? a.toLowerCase() : a;
  const y = typeof b === 'string' ? b.toLowerCase() : b;
  switch (op) {
    case 'eq':
      return x === y;
    case 'ne':
      return x !== y;
    case 'co':
      return typeof x === 'string' && typeof y === 'string' && x.includes(y);
    case 'sw':
      return typeof x === 'string' && typeof y === 'string' && x.startsWith(y);
    case 'ew':
      return typeof x === 'string' && typeof y === 'string' && x.endsWith(y);
    default:
      return false;
  }
}

function resolve(f: Filter, prefix: string): ResolvedFilter {
  switch (f.op) {
    case 'and':
    case 'or':
      return { op: f.op, filters: (f as { filters: Filter[] }).filters.map((x) => resolve(x, prefix)) };
    case 'not':
      return { op: 'not', filter: resolve((f as { filter: Filter }).filter, prefix) };
    case '[]': {
      const v = f as { attrPath: string; valFilter: Filter };
      return resolve(v.valFilter, `${unqualified(v.attrPath)}.`);
    }
    default: {
      const c = f as { op: CompareOp | 'pr'; attrPath: string; compValue?: string | number | boolean | null };
      const path = prefix + unqualified(c.attrPath);
      if (path in CONSTANTS) {
        const value = CONSTANTS[path]!;
        return { op: 'const', value: c.op === 'pr' ? true : compareConstant(c.op, value, c.compValue) };
      }
      const field = FIELDS[path];
      if (!field) throw new ScimError(400, 'invalidFilter', `attribute ${c.attrPath} cannot be filtered; filterable are ${Object.keys(FIELDS).join(', ')}`);
      if (c.op === 'pr') return { op: 'pr', field };
      const value = c.compValue ?? null;
      if (field.type === 'boolean' && c.op !== 'eq' && c.op !== 'ne') throw new ScimError(400, 'invalidFilter', `${c.attrPath} is a boolean: only eq and ne apply`);
      if (field.type === 'boolean' && typeof value !== 'boolean') throw new ScimError(400, 'invalidFilter', `${c.attrPath} compares with true or false`);
      if (field.type === 'dateTime' && (typeof value !== 'string' || Number.isNaN(Date.parse(value)))) {
        throw new ScimError(400, 'invalidFilter', `${c.attrPath} compares with an ISO-8601 date-time`);
      }
      return { op: c.op, field, value };
    }
  }
}

/** Parses a filter (RFC 7644 §3.4.2.2) and resolves its attributes; ScimError invalidFilter otherwise. */
export function parseScimFilter(text: string): ResolvedFilter {
  if (text.length > 4096) throw new ScimError(400, 'invalidFilter', 'the filter is longer than 4096 characters');
  let ast: Filter;
  try {
    ast = parse(text);
  } catch (e) {
    throw new ScimError(400, 'invalidFilter', `the filter does not parse: ${(e as Error).message}`);
  }
  return resolve(ast, '');
}
