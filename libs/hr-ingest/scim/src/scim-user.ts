import type { HrAttributes } from '@provisio/contracts';
import { HR_FIELDS, parseHrAttributes, parseHrDate, workerIdSchema, type HrAttributesInput } from '@provisio/hr-ingest-domain';
import { URN } from './scim-constants.js';
import { ScimError, invalidSyntax, invalidValue } from './scim-error.js';

/** A SCIM User turned into a worker change (absent = unchanged, null = cleared). */
export interface ScimWorker {
  /** externalId: the worker id in the HR source. */
  workerId: string | undefined;
  attributes: HrAttributesInput;
  /** The manager reference (enterprise `manager.value`): undefined = unchanged, null = none. */
  manager: string | null | undefined;
  sourceTimestamp?: number | undefined;
  sequence?: number | undefined;
}

export interface ScimUserOptions {
  /** `<extension urn>:<attribute>` (lower case) → canonical attribute (or managerWorkerId). */
  attributeMap: ReadonlyMap<string, string>;
}

/** Core User attributes (RFC 7643 §4.1) hr-ingest accepts but does not keep. */
const IGNORED_CORE = new Set(
  ['nickName', 'profileUrl', 'preferredLanguage', 'locale', 'timezone', 'password', 'phoneNumbers', 'ims', 'photos', 'groups', 'entitlements', 'roles', 'x509Certificates', 'id', 'meta'].map((k) =>
    k.toLowerCase(),
  ),
);
const CORE = new Set(['schemas', 'externalid', 'username', 'name', 'displayname', 'title', 'usertype', 'active', 'emails', 'addresses']);

/** SCIM attribute (for messages) of each canonical attribute. */
export const SCIM_PATH_OF: Record<string, string> = {
  userName: 'userName',
  givenName: 'name.givenName',
  familyName: 'name.familyName',
  displayName: 'displayName',
  jobTitle: 'title',
  workerType: 'userType',
  email: 'emails.value',
  countryCode: 'addresses.country',
  employeeNumber: `${URN.enterprise}:employeeNumber`,
  costCenter: `${URN.enterprise}:costCenter`,
  organization: `${URN.enterprise}:organization`,
  division: `${URN.enterprise}:division`,
  department: `${URN.enterprise}:department`,
  status: `${URN.hr}:status`,
  hireDate: `${URN.hr}:hireDate`,
  terminationDate: `${URN.hr}:terminationDate`,
  onLeave: `${URN.hr}:onLeave`,
  company: `${URN.hr}:company`,
  location: `${URN.hr}:location`,
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Keys looked up case-insensitively (RFC 7643 §2.1: attribute names are case-insensitive). */
function folded(o: Record<string, unknown>): Map<string, [string, unknown]> {
  return new Map(Object.entries(o).map(([k, v]) => [k.toLowerCase(), [k, v]]));
}

class Problems {
  readonly list: string[] = [];
  add(path: string, value: unknown, message: string): void {
    const shown = value === undefined ? '' : ` (value ${JSON.stringify(value)?.slice(0, 80)})`;
    this.list.push(`${path}: ${message}${shown}`);
  }
}

function str(v: unknown, path: string, p: Problems): string | null | undefined {
  if (v === undefined || v === null) return v as null | undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  p.add(path, v, 'expected a string');
  return undefined;
}

function bool(v: unknown, path: string, p: Problems): boolean | null | undefined {
  if (v === undefined || v === null || typeof v === 'boolean') return v as boolean | null | undefined;
  // Microsoft Entra sends booleans as "True"/"False" strings in PATCH values.
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  p.add(path, v, 'expected a boolean');
  return undefined;
}

/** primary, else type "work", else the first value of a multi-valued attribute. */
function pick(v: unknown, path: string, p: Problems): Record<string, unknown> | null | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (!Array.isArray(v)) {
    p.add(path, v, 'expected an array');
    return undefined;
  }
  const items = v.filter(isObject);
  if (items.length !== v.length) p.add(path, v, 'expected an array of objects');
  if (items.length === 0) return null;
  const get = (o: Record<string, unknown>, k: string) => folded(o).get(k)?.[1];
  return items.find((o) => get(o, 'primary') === true) ?? items.find((o) => String(get(o, 'type') ?? '').toLowerCase() === 'work') ?? items[0]!;
}

function customValue(v: unknown, path: string, p: Problems): string | null | undefined {
  if (v === undefined || v === null) return v as null | undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  p.add(path, v, 'extension attributes must be strings, numbers or booleans');
  return undefined;
}

/**
 * Reads a SCIM User (core, enterprise extension, hr-ingest's HR extension and any custom
 * extension namespace) into canonical attributes. Throws ScimError 400 naming every problem:
 * invalidValue for values and schema URNs, invalidSyntax for the document's shape.
 */
export function scimUserToWorker(body: unknown, o: ScimUserOptions): ScimWorker {
  if (!isObject(body)) throw invalidSyntax('the request body must be a SCIM User object');
  const keys = folded(body);
  const schemasRaw = keys.get('schemas')?.[1];
  if (!Array.isArray(schemasRaw) || schemasRaw.length === 0 || !schemasRaw.every((s) => typeof s === 'string')) {
    throw invalidValue(`schemas: required, an array of schema URNs including ${URN.user}`);
  }
  const schemas = new Set((schemasRaw as string[]).map((s) => s.toLowerCase()));
  if (!schemas.has(URN.user.toLowerCase())) throw invalidValue(`schemas: must include ${URN.user}`);
  for (const s of schemasRaw as string[]) {
    const l = s.toLowerCase();
    if (l === URN.user.toLowerCase() || l === URN.enterprise.toLowerCase() || l === URN.hr.toLowerCase()) continue;
    if (!/^urn:[a-z0-9][a-z0-9-]{0,31}:[^\s]+$/i.test(s) || !/:extension:/i.test(s)) {
      throw invalidValue(`schemas: unknown schema URN ${JSON.stringify(s)}; known are ${URN.user}, ${URN.enterprise}, ${URN.hr} and custom extensions (urn:…:extension:…)`);
    }
  }

  const p = new Problems();
  const raw: Record<string, unknown> = {};
  const custom: Record<string, string | null> = {};
  let manager: string | null | undefined;
  let sourceTimestamp: number | undefined;
  let sequence: number | undefined;
  let statusFromActive: string | undefined;
  let locality: string | null | undefined;

  for (const [lower, [name, value]] of keys) {
    if (lower.startsWith('urn:')) {
      if (!schemas.has(lower)) throw invalidSyntax(`${name}: extension attributes of a schema that "schemas" does not list`);
      if (value === null) continue;
      if (!isObject(value)) {
        p.add(name, value, 'expected an object of extension attributes');
        continue;
      }
      readExtension(name, value, o, p, raw, custom, (m) => (manager = m), (t) => (sourceTimestamp = t), (n) => (sequence = n));
      continue;
    }
    if (IGNORED_CORE.has(lower)) continue;
    if (!CORE.has(lower)) throw invalidSyntax(`${name}: not an attribute of ${URN.user}`);
    switch (lower) {
      case 'externalid':
      case 'schemas':
        break;
      case 'username':
        raw['userName'] = str(value, 'userName', p);
        break;
      case 'displayname':
        raw['displayName'] = str(value, 'displayName', p);
        break;
      case 'title':
        raw['jobTitle'] = str(value, 'title', p);
        break;
      case 'usertype':
        raw['workerType'] = str(value, 'userType', p);
        break;
      case 'active': {
        const a = bool(value, 'active', p);
        if (a !== undefined && a !== null) statusFromActive = a ? 'active' : 'terminated';
        break;
      }
      case 'name':
        if (value === null) {
          raw['givenName'] = null;
          raw['familyName'] = null;
        } else if (isObject(value)) {
          const n = folded(value);
          if (n.has('givenname')) raw['givenName'] = str(n.get('givenname')![1], 'name.givenName', p);
          if (n.has('familyname')) raw['familyName'] = str(n.get('familyname')![1], 'name.familyName', p);
        } else p.add('name', value, 'expected an object');
        break;
      case 'emails': {
        const e = pick(value, 'emails', p);
        if (e === null) raw['email'] = null;
        else if (e) raw['email'] = str(folded(e).get('value')?.[1] ?? null, 'emails.value', p);
        break;
      }
      case 'addresses': {
        const a = pick(value, 'addresses', p);
        if (a === null) raw['countryCode'] = null;
        else if (a) {
          const f = folded(a);
          if (f.has('country')) raw['countryCode'] = str(f.get('country')![1], 'addresses.country', p);
          if (f.has('locality')) locality = str(f.get('locality')![1], 'addresses.locality', p);
        }
        break;
      }
    }
  }
  // The HR extension's status wins over `active` (it can say leave or pre-hire).
  if (raw['status'] === undefined && statusFromActive !== undefined) raw['status'] = statusFromActive;
  // The work address's locality names the location unless the HR extension does.
  if (raw['location'] === undefined && locality !== undefined) raw['location'] = locality;
  if (Object.keys(custom).length > 0) raw['custom'] = custom;
  for (const k of Object.keys(raw)) if (raw[k] === undefined) delete raw[k];

  let workerId: string | undefined;
  const ext = keys.get('externalid');
  if (ext && ext[1] !== undefined && ext[1] !== null) {
    const r = workerIdSchema.safeParse(typeof ext[1] === 'string' ? ext[1].trim() : ext[1]);
    if (r.success) workerId = r.data;
    else p.add('externalId', ext[1], r.error.issues[0]?.message ?? 'invalid worker id');
  }
  const parsed = parseHrAttributes(raw, '');
  if (!parsed.ok) {
    for (const e of parsed.errors) {
      const [attr, sub] = e.field.split('.');
      const path = attr === 'custom' ? `custom ${sub}` : (SCIM_PATH_OF[attr ?? ''] ?? e.field);
      p.add(path, e.value, e.message);
    }
  }
  if (p.list.length > 0) throw invalidValue(p.list.join('; '));
  return { workerId, attributes: parsed.ok ? parsed.value : {}, manager, sourceTimestamp, sequence };
}

function readExtension(
  urn: string,
  value: Record<string, unknown>,
  o: ScimUserOptions,
  p: Problems,
  raw: Record<string, unknown>,
  custom: Record<string, string | null>,
  setManager: (m: string | null) => void,
  setTimestamp: (t: number) => void,
  setSequence: (n: number) => void,
): void {
  const lowerUrn = urn.toLowerCase();
  for (const [k, v] of Object.entries(value)) {
    const path = `${urn}:${k}`;
    const key = k.toLowerCase();
    if (lowerUrn === URN.enterprise.toLowerCase()) {
      const canonical = { employeenumber: 'employeeNumber', costcenter: 'costCenter', organization: 'organization', division: 'division', department: 'department' }[key];
      if (canonical) raw[canonical] = str(v, path, p);
      else if (key === 'manager') {
        if (v === null || v === '') setManager(null);
        else if (typeof v === 'string') setManager(v);
        else if (isObject(v)) {
          const ref = folded(v).get('value')?.[1];
          if (ref === undefined || ref === null || ref === '') setManager(null);
          else if (typeof ref === 'string') setManager(ref);
          else p.add(`${path}.value`, ref, 'expected a string');
        } else p.add(path, v, 'expected an object with value');
      } else p.add(path, v, `not an attribute of ${URN.enterprise}`);
      continue;
    }
    if (lowerUrn === URN.hr.toLowerCase()) {
      const canonical = { status: 'status', hiredate: 'hireDate', terminationdate: 'terminationDate', company: 'company', location: 'location', countrycode: 'countryCode' }[key];
      if (canonical) raw[canonical] = str(v, path, p);
      else if (key === 'onleave') raw['onLeave'] = bool(v, path, p);
      else if (key === 'sourcetimestamp') {
        const d = typeof v === 'string' ? parseHrDate(v) : undefined;
        if (d?.kind === 'instant') setTimestamp(d.epochMs);
        else p.add(path, v, 'expected an ISO-8601 date-time with Z or an offset');
      } else if (key === 'sequence') {
        if (typeof v === 'number' && Number.isInteger(v) && v >= 0) setSequence(v);
        else p.add(path, v, 'expected a non-negative integer');
      } else if (key === 'managerresolved' || key === 'managerexternalid') {
        // Read-only (reported by hr-ingest): ignored when a client sends a resource back.
      } else if (key === 'extensionattributes') {
        // Written back as rendered by GET: [{ name, value }] of custom attributes without a URN.
        if (Array.isArray(v)) for (const item of v.filter(isObject)) custom[String(item['name'])] = customValue(item['value'], path, p) ?? null;
      } else p.add(path, v, `not an attribute of ${URN.hr}`);
      continue;
    }
    // A custom extension: mapped onto a canonical attribute, else kept as custom `<urn>:<name>`.
    const target = o.attributeMap.get(`${lowerUrn}:${key}`);
    if (target === 'managerWorkerId') setManager(str(v, path, p) ?? null);
    else if (target === 'onLeave') raw['onLeave'] = bool(v, path, p);
    else if (target && (HR_FIELDS as readonly string[]).includes(target)) raw[target] = str(v, path, p);
    else if (isObject(v)) {
      for (const [sk, sv] of Object.entries(v)) custom[`${urn}:${k}.${sk}`] = customValue(sv, `${path}.${sk}`, p) ?? null;
    } else {
      const c = customValue(v, path, p);
      if (c !== undefined) custom[`${urn}:${k}`] = c;
    }
  }
}

/** What a SCIM User is rendered from: a person as stored, its attributes as consumers see them. */
export interface ScimPersonView {
  personId: string;
  workerId: string;
  version: number;
  /** Attributes with status following the phase (viewOf). */
  attributes: HrAttributes;
  active: boolean;
  createdAt: Date;
  updatedAt: Date;
  /** The manager reference (worker id = the manager's externalId) and whether it resolved to a User. */
  manager?: { externalId: string; resolved: boolean } | undefined;
}

/** The ETag of a version (weak: the representation may vary with `attributes`). */
export function etagOf(version: number): string {
  return `W/"${version}"`;
}

/** Renders a person as a SCIM User (unset attributes are omitted, RFC 7643 §2.5). */
export function personToScimUser(p: ScimPersonView, location: string): Record<string, unknown> {
  const a = p.attributes;
  const user: Record<string, unknown> = { schemas: [URN.user], id: p.personId, externalId: p.workerId, userName: a.userName ?? p.workerId };
  const name: Record<string, string> = {};
  if (a.givenName) name['givenName'] = a.givenName;
  if (a.familyName) name['familyName'] = a.familyName;
  if (a.givenName || a.familyName) name['formatted'] = [a.givenName, a.familyName].filter(Boolean).join(' ');
  if (Object.keys(name).length > 0) user['name'] = name;
  if (a.displayName) user['displayName'] = a.displayName;
  if (a.jobTitle) user['title'] = a.jobTitle;
  if (a.workerType) user['userType'] = a.workerType;
  user['active'] = p.active;
  if (a.email) user['emails'] = [{ value: a.email, type: 'work', primary: true }];
  if (a.countryCode) user['addresses'] = [{ type: 'work', primary: true, country: a.countryCode }];
  const enterprise: Record<string, unknown> = {};
  for (const k of ['employeeNumber', 'costCenter', 'organization', 'division', 'department'] as const) if (a[k]) enterprise[k] = a[k];
  if (a.managerPersonId) enterprise['manager'] = { value: a.managerPersonId, $ref: `../Users/${a.managerPersonId}` };
  if (Object.keys(enterprise).length > 0) {
    user[URN.enterprise] = enterprise;
    (user['schemas'] as string[]).push(URN.enterprise);
  }
  const hr: Record<string, unknown> = {};
  for (const k of ['status', 'hireDate', 'terminationDate', 'company', 'location'] as const) if (a[k]) hr[k] = a[k];
  if (a.onLeave !== null) hr['onLeave'] = a.onLeave;
  const byUrn = new Map<string, Record<string, string>>();
  const plain: { name: string; value: string }[] = [];
  for (const [k, v] of Object.entries(a.custom)) {
    const m = /^(urn:.+):([^:]+)$/i.exec(k);
    if (m) byUrn.set(m[1]!, { ...byUrn.get(m[1]!), [m[2]!]: v });
    else plain.push({ name: k, value: v });
  }
  if (plain.length > 0) hr['extensionAttributes'] = plain;
  // A manager not known yet has no User to point at (no enterprise manager): the HR extension
  // says whom the record names and that the reference is still open (read-only attributes).
  if (p.manager) {
    hr['managerExternalId'] = p.manager.externalId;
    hr['managerResolved'] = p.manager.resolved;
  }
  if (Object.keys(hr).length > 0) {
    user[URN.hr] = hr;
    (user['schemas'] as string[]).push(URN.hr);
  }
  for (const [urn, attrs] of byUrn) {
    user[urn] = attrs;
    (user['schemas'] as string[]).push(urn);
  }
  user['meta'] = { resourceType: 'User', created: p.createdAt.toISOString(), lastModified: p.updatedAt.toISOString(), location, version: etagOf(p.version) };
  return user;
}

function resolvePath(path: string, resource: Record<string, unknown>): { top: string; sub?: string } | undefined {
  let l = path.trim();
  const coreUrn = `${URN.user.toLowerCase()}:`;
  if (l.toLowerCase().startsWith(coreUrn)) l = l.slice(coreUrn.length);
  const keys = Object.keys(resource);
  if (l.toLowerCase().startsWith('urn:')) {
    for (const key of keys.filter((k) => k.startsWith('urn:')).sort((a, b) => b.length - a.length)) {
      const kl = key.toLowerCase();
      if (l.toLowerCase() === kl) return { top: key };
      if (l.toLowerCase().startsWith(`${kl}:`)) return { top: key, sub: l.slice(kl.length + 1) };
    }
    return undefined;
  }
  const [head, sub] = l.split('.', 2) as [string, string | undefined];
  const top = keys.find((k) => k.toLowerCase() === head.toLowerCase());
  return top === undefined ? undefined : sub === undefined ? { top } : { top, sub };
}

function subKey(o: Record<string, unknown>, sub: string): string | undefined {
  return Object.keys(o).find((k) => k.toLowerCase() === sub.toLowerCase());
}

/**
 * `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5) on a rendered resource: top-level and
 * sub-attributes, URN-qualified or not. `schemas`, `id` and `meta` are always returned.
 */
export function projectAttributes(resource: Record<string, unknown>, attributes?: string, excluded?: string): Record<string, unknown> {
  const list = (s: string | undefined) => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  const include = list(attributes);
  const exclude = list(excluded);
  const always = ['schemas', 'id', 'meta'];
  if (include.length > 0) {
    const out: Record<string, unknown> = Object.fromEntries(always.filter((k) => k in resource).map((k) => [k, resource[k]]));
    for (const path of include) {
      const r = resolvePath(path, resource);
      if (!r) continue;
      const v = resource[r.top];
      if (r.sub === undefined) out[r.top] = v;
      else if (isObject(v)) {
        const k = subKey(v, r.sub);
        if (k !== undefined) out[r.top] = { ...(out[r.top] as Record<string, unknown> | undefined), [k]: v[k] };
      } else if (Array.isArray(v)) {
        out[r.top] = v.filter(isObject).map((item) => {
          const k = subKey(item, r.sub!);
          return k === undefined ? {} : { [k]: item[k] };
        });
      }
    }
    return out;
  }
  const out: Record<string, unknown> = { ...resource };
  for (const path of exclude) {
    const r = resolvePath(path, resource);
    if (!r || always.includes(r.top)) continue;
    if (r.sub === undefined) delete out[r.top];
    else if (isObject(out[r.top])) {
      const copy = { ...(out[r.top] as Record<string, unknown>) };
      const k = subKey(copy, r.sub);
      if (k !== undefined) delete copy[k];
      out[r.top] = copy;
    } else if (Array.isArray(out[r.top])) {
      out[r.top] = (out[r.top] as unknown[]).filter(isObject).map((item) => {
        const copy = { ...item };
        const k = subKey(copy, r.sub!);
        if (k !== undefined) delete copy[k];
        return copy;
      });
    }
  }
  return out;
}

export { ScimError };
