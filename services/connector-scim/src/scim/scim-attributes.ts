import { ConnectorError, ConnectorErrorCode, type AttributeValue, type Attributes } from '@provisio/connector-kit';
import type { Json } from './scim-http.js';

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/** Short names commands may use, and the SCIM path each stands for. */
const ALIASES: Record<string, string> = {
  givenName: 'name.givenName',
  familyName: 'name.familyName',
  middleName: 'name.middleName',
  formattedName: 'name.formatted',
  email: 'emails[work]',
  mail: 'emails[work]',
  phone: 'phoneNumbers[work]',
  mobile: 'phoneNumbers[mobile]',
  department: `${ENTERPRISE}:department`,
  employeeNumber: `${ENTERPRISE}:employeeNumber`,
  costCenter: `${ENTERPRISE}:costCenter`,
  organization: `${ENTERPRISE}:organization`,
  division: `${ENTERPRISE}:division`,
};
const TOP = new Set(['displayName', 'nickName', 'title', 'userType', 'preferredLanguage', 'locale', 'timezone', 'profileUrl']);
const NAME_PARTS = new Set(['givenName', 'familyName', 'middleName', 'formatted', 'honorificPrefix', 'honorificSuffix']);
const MULTI = new Set(['emails', 'phoneNumbers']);
const ENTERPRISE_ATTRS = new Set(['department', 'employeeNumber', 'costCenter', 'organization', 'division']);

type Path = { kind: 'top'; attr: string } | { kind: 'name'; part: string } | { kind: 'multi'; attr: string; type: string } | { kind: 'enterprise'; attr: string };

/** Parses a command attribute name into a SCIM path; unknown names are refused with the list of known ones. */
export function pathOf(name: string): Path {
  const n = ALIASES[name] ?? name;
  if (TOP.has(n)) return { kind: 'top', attr: n };
  let m = /^name\.(\w+)$/.exec(n);
  if (m && NAME_PARTS.has(m[1]!)) return { kind: 'name', part: m[1]! };
  m = /^(emails|phoneNumbers)\[(\w+)\]$/.exec(n);
  if (m && MULTI.has(m[1]!)) return { kind: 'multi', attr: m[1]!, type: m[2]! };
  if (n.startsWith(`${ENTERPRISE}:`) && ENTERPRISE_ATTRS.has(n.slice(ENTERPRISE.length + 1))) return { kind: 'enterprise', attr: n.slice(ENTERPRISE.length + 1) };
  throw new ConnectorError(
    ConnectorErrorCode.Rejected,
    `attribute ${name} is not supported by SCIM targets (use ${[...TOP].join(', ')}, name.<part>, emails[<type>], phoneNumbers[<type>], ${ENTERPRISE}:<attr> or the short names ${Object.keys(ALIASES).join(', ')})`,
  );
}

const single = (v: AttributeValue): string | null => (v === null ? null : Array.isArray(v) ? (v[0] ?? null) : String(v));

export function getValue(resource: Json, p: Path): AttributeValue {
  switch (p.kind) {
    case 'top':
      return (resource[p.attr] as string | undefined) ?? null;
    case 'name':
      return ((resource['name'] as Json | undefined)?.[p.part] as string | undefined) ?? null;
    case 'multi': {
      const list = (resource[p.attr] as Json[] | undefined) ?? [];
      return (list.find((x) => x['type'] === p.type)?.['value'] as string | undefined) ?? null;
    }
    case 'enterprise':
      return ((resource[ENTERPRISE] as Json | undefined)?.[p.attr] as string | undefined) ?? null;
  }
}

/** Sets (or, for null, removes) a value in a full resource (POST and PUT bodies). */
export function setValue(resource: Json, p: Path, value: AttributeValue): void {
  const v = single(value);
  switch (p.kind) {
    case 'top':
      if (v === null) delete resource[p.attr];
      else resource[p.attr] = v;
      return;
    case 'name': {
      const name = { ...((resource['name'] as Json | undefined) ?? {}) };
      if (v === null) delete name[p.part];
      else name[p.part] = v;
      resource['name'] = name;
      return;
    }
    case 'multi':
      resource[p.attr] = mergedMulti(resource, p, v);
      return;
    case 'enterprise': {
      const ext = { ...((resource[ENTERPRISE] as Json | undefined) ?? {}) };
      if (v === null) delete ext[p.attr];
      else ext[p.attr] = v;
      resource[ENTERPRISE] = ext;
      const schemas = new Set((resource['schemas'] as string[] | undefined) ?? [USER_SCHEMA]);
      schemas.add(ENTERPRISE);
      resource['schemas'] = [...schemas];
    }
  }
}

function mergedMulti(resource: Json, p: Extract<Path, { kind: 'multi' }>, v: string | null): Json[] {
  const others = ((resource[p.attr] as Json[] | undefined) ?? []).filter((x) => x['type'] !== p.type);
  const had = ((resource[p.attr] as Json[] | undefined) ?? []).find((x) => x['type'] === p.type);
  return v === null ? others : [...others, { ...(had ?? {}), type: p.type, value: v, ...(others.length === 0 ? { primary: true } : {}) }];
}

export interface PatchOperation {
  op: string;
  path?: string;
  value?: unknown;
}

/** PatchOp operations (RFC 7644 §3.5.2) for changed attributes; typed multi-valued ones replace the merged list. */
export function patchOperations(current: Json, changes: Attributes, capitalized: boolean): PatchOperation[] {
  const op = (o: 'add' | 'replace' | 'remove') => (capitalized ? `${o[0]!.toUpperCase()}${o.slice(1)}` : o);
  const ops: PatchOperation[] = [];
  for (const [name, value] of Object.entries(changes)) {
    const p = pathOf(name);
    const v = single(value);
    const path = p.kind === 'top' ? p.attr : p.kind === 'name' ? `name.${p.part}` : p.kind === 'enterprise' ? `${ENTERPRISE}:${p.attr}` : p.attr;
    if (p.kind === 'multi') ops.push({ op: op('replace'), path, value: mergedMulti(current, p, v) });
    else if (v === null) {
      if (getValue(current, p) !== null) ops.push({ op: op('remove'), path });
    } else ops.push({ op: op('replace'), path, value: v });
  }
  return ops;
}

/** The managed attributes of a resource, under their canonical paths and their short names. */
export function readAttributes(resource: Json): Attributes {
  const out: Attributes = {};
  const names = [...TOP, ...[...NAME_PARTS].map((p) => `name.${p}`), ...Object.keys(ALIASES)];
  for (const n of names) {
    const v = getValue(resource, pathOf(n));
    if (v !== null) out[n] = v;
  }
  for (const attr of MULTI) {
    for (const item of (resource[attr] as Json[] | undefined) ?? []) if (typeof item['type'] === 'string') out[`${attr}[${item['type']}]`] = String(item['value']);
  }
  for (const a of ENTERPRISE_ATTRS) {
    const v = getValue(resource, { kind: 'enterprise', attr: a });
    if (v !== null) out[`${ENTERPRISE}:${a}`] = v;
  }
  return out;
}
