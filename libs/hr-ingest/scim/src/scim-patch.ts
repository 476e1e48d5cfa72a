import { scimPatch, type ScimPatchOperation, type ScimResource } from 'scim-patch';
import { URN } from './scim-constants.js';
import { ScimError, invalidSyntax, invalidValue } from './scim-error.js';
import { scimUserToWorker, type ScimUserOptions, type ScimWorker } from './scim-user.js';

const CANONICAL_NAMES = ['userName', 'name', 'givenName', 'familyName', 'formatted', 'displayName', 'title', 'userType', 'active', 'emails', 'addresses', 'value', 'type', 'primary', 'country', 'locality', 'externalId', 'employeeNumber', 'costCenter', 'organization', 'division', 'department', 'manager', 'status', 'hireDate', 'terminationDate', 'onLeave', 'company', 'location', 'sourceTimestamp', 'sequence', 'extensionAttributes'];
const BY_LOWER = new Map(CANONICAL_NAMES.map((n) => [n.toLowerCase(), n]));
const URNS = [URN.user, URN.enterprise, URN.hr];

/** Attribute names in a path spelled as rendered (names are case-insensitive; the patch library is not). */
function normalizePath(path: string): string {
  let rest = path.trim();
  let urn = '';
  for (const u of URNS) {
    if (rest.toLowerCase().startsWith(`${u.toLowerCase()}:`)) {
      urn = u === URN.user ? '' : `${u}:`;
      rest = rest.slice(u.length + 1);
    }
  }
  const fixed = rest.replace(/(^|[.[\s])([A-Za-z$][\w$]*)/g, (m, sep: string, name: string) => {
    const canonical = BY_LOWER.get(name.toLowerCase());
    return canonical && !/^(eq|ne|co|sw|ew|gt|lt|ge|le|pr|and|or|not)$/i.test(name) ? `${sep}${canonical}` : m;
  });
  return `${urn}${fixed}`;
}

/** Reads a PatchOp request (RFC 7644 §3.5.2); op names are case-insensitive (Entra sends "Replace"). */
export function parsePatchRequest(body: unknown): ScimPatchOperation[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalidSyntax('the body must be a PatchOp message');
  const entries = new Map(Object.entries(body).map(([k, v]) => [k.toLowerCase(), v]));
  const schemas = entries.get('schemas');
  if (!Array.isArray(schemas) || schemas.length === 0) throw invalidValue(`schemas: must be [${URN.patchOp}]`);
  for (const x of schemas) {
    if (typeof x !== 'string' || x.toLowerCase() !== URN.patchOp.toLowerCase()) throw invalidValue(`schemas: unknown schema URN ${JSON.stringify(x)} in a PatchOp; must be [${URN.patchOp}]`);
  }
  const ops = entries.get('operations');
  if (!Array.isArray(ops) || ops.length === 0) throw invalidSyntax('Operations: required, a non-empty array');
  return ops.map((raw, i) => {
    if (typeof raw !== 'object' || raw === null) throw invalidSyntax(`Operations[${i}]: expected an object`);
    const o = new Map(Object.entries(raw as Record<string, unknown>).map(([k, v]) => [k.toLowerCase(), v]));
    const op = typeof o.get('op') === 'string' ? (o.get('op') as string).toLowerCase() : '';
    if (!['add', 'replace', 'remove'].includes(op)) throw invalidSyntax(`Operations[${i}].op: expected add, replace or remove`);
    const path = o.get('path');
    if (path !== undefined && typeof path !== 'string') throw new ScimError(400, 'invalidPath', `Operations[${i}].path: expected a string`);
    if (op === 'remove' && !path) throw new ScimError(400, 'noTarget', `Operations[${i}]: remove needs a path`);
    if (op !== 'remove' && !o.has('value')) throw invalidSyntax(`Operations[${i}]: ${op} needs a value`);
    const normalized = path ? normalizePath(path) : undefined;
    const head = normalized?.split(/[.[:]/)[0]?.toLowerCase();
    if (head === 'id' || head === 'meta' || head === 'schemas') throw new ScimError(400, 'mutability', `Operations[${i}].path: ${path} is read-only`);
    return { op, ...(normalized ? { path: normalized } : {}), ...(o.has('value') ? { value: o.get('value') } : {}) } as ScimPatchOperation;
  });
}

/** Applies PATCH operations to a rendered User; the result is read back like a PUT body. */
export function applyPatch(resource: Record<string, unknown>, ops: ScimPatchOperation[]): Record<string, unknown> {
  try {
    return scimPatch(resource as unknown as ScimResource, ops, { mutateDocument: false, treatMissingAsAdd: true }) as unknown as Record<string, unknown>;
  } catch (e) {
    if (e instanceof ScimError) throw e;
    const code = (e as { scimCode?: string }).scimCode;
    const message = (e as Error).message;
    if (code === 'noTarget' || /NoTarget|not found/i.test(message)) throw new ScimError(400, 'noTarget', message);
    if (code === 'invalidPath' || /path/i.test(message)) throw new ScimError(400, 'invalidPath', message);
    throw new ScimError(400, 'invalidValue', message);
  }
}

function activeOf(doc: Record<string, unknown>): boolean | undefined {
  const v = Object.entries(doc).find(([k]) => k.toLowerCase() === 'active')?.[1];
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  return undefined;
}

function hrStatusOf(doc: Record<string, unknown>): unknown {
  const ext = Object.entries(doc).find(([k]) => k.toLowerCase() === URN.hr.toLowerCase())?.[1];
  if (typeof ext !== 'object' || ext === null) return undefined;
  return Object.entries(ext).find(([k]) => k.toLowerCase() === 'status')?.[1];
}

/**
 * The change a PATCH made, as a delta: the attributes whose canonical value differs between the
 * rendered User and the patched one (null where the patch removed one). `active` flips the
 * status unless the patch also set the HR extension's status.
 */
export function patchedWorker(before: Record<string, unknown>, after: Record<string, unknown>, o: ScimUserOptions): ScimWorker {
  const a = scimUserToWorker(before, o);
  const b = scimUserToWorker(after, o);
  const attributes: Record<string, unknown> = {};
  const av = a.attributes as Record<string, unknown>;
  const bv = b.attributes as Record<string, unknown>;
  for (const k of new Set([...Object.keys(av), ...Object.keys(bv)])) {
    if (k === 'custom' || k === 'status') continue;
    if ((av[k] ?? null) !== (bv[k] ?? null)) attributes[k] = bv[k] ?? null;
  }
  const ac = a.attributes.custom ?? {};
  const bc = b.attributes.custom ?? {};
  const custom: Record<string, string | null> = {};
  for (const k of new Set([...Object.keys(ac), ...Object.keys(bc)])) if ((ac[k] ?? null) !== (bc[k] ?? null)) custom[k] = bc[k] ?? null;
  if (Object.keys(custom).length > 0) attributes['custom'] = custom;
  const statusPatched = JSON.stringify(hrStatusOf(before)) !== JSON.stringify(hrStatusOf(after));
  if (statusPatched && b.attributes.status !== undefined) attributes['status'] = b.attributes.status;
  else {
    const was = activeOf(before);
    const is = activeOf(after);
    if (is !== undefined && is !== was) attributes['status'] = is ? 'active' : 'terminated';
  }
  return {
    workerId: b.workerId,
    attributes: attributes as ScimWorker['attributes'],
    manager: a.manager === b.manager ? undefined : (b.manager ?? null),
    sourceTimestamp: b.sourceTimestamp,
    sequence: b.sequence,
  };
}
