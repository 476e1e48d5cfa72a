import { URN } from './scim-constants.js';
import { ScimError, invalidSyntax, invalidValue } from './scim-error.js';

export type BulkMethod = 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface BulkOperation {
  index: number;
  method: BulkMethod;
  bulkId: string | undefined;
  /** For PUT, PATCH, DELETE: the User id, or `bulkId:<id>` of a POST in the same request. */
  resourceId: string | undefined;
  data: unknown;
  version: string | undefined;
}

export interface InvalidBulkOperation {
  index: number;
  method: string | undefined;
  bulkId: string | undefined;
  error: ScimError;
}

export interface BulkRequest {
  failOnErrors: number | undefined;
  operations: (BulkOperation | InvalidBulkOperation)[];
}

/**
 * Reads a BulkRequest (RFC 7644 §3.7). Problems with the request as a whole throw (400, or 413
 * over maxOperations); problems of one operation are reported for that operation only. Paths
 * match case-insensitively (/Users, /users).
 */
export function parseBulkRequest(body: unknown, maxOperations: number): BulkRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalidSyntax('the body must be a BulkRequest message');
  const top = new Map(Object.entries(body).map(([k, v]) => [k.toLowerCase(), v]));
  const schemas = top.get('schemas');
  if (!Array.isArray(schemas) || schemas.length === 0) throw invalidValue(`schemas: required, [${URN.bulkRequest}]`);
  for (const s of schemas) {
    if (typeof s !== 'string' || s.toLowerCase() !== URN.bulkRequest.toLowerCase()) throw invalidValue(`schemas: unknown schema URN ${JSON.stringify(s)}; a bulk request is ${URN.bulkRequest}`);
  }
  const ops = top.get('operations');
  if (!Array.isArray(ops)) throw invalidSyntax('Operations: required, an array of operations');
  if (ops.length > maxOperations) throw new ScimError(413, undefined, `the request has ${ops.length} operations; at most ${maxOperations} (bulk.maxOperations) are accepted`);
  const foe = top.get('failonerrors');
  if (foe !== undefined && foe !== null && !(Number.isInteger(foe) && (foe as number) > 0)) throw invalidValue('failOnErrors: expected a positive integer');
  return {
    failOnErrors: typeof foe === 'number' ? foe : undefined,
    operations: ops.map((raw, index) => parseOperation(raw, index)),
  };
}

function parseOperation(raw: unknown, index: number): BulkOperation | InvalidBulkOperation {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { index, method: undefined, bulkId: undefined, error: invalidSyntax(`Operations[${index}]: expected an object`) };
  }
  const o = new Map(Object.entries(raw as Record<string, unknown>).map(([k, v]) => [k.toLowerCase(), v]));
  const methodRaw = o.get('method');
  const method = typeof methodRaw === 'string' ? methodRaw.toUpperCase() : undefined;
  const bulkIdRaw = o.get('bulkid');
  const bulkId = typeof bulkIdRaw === 'string' && bulkIdRaw.length > 0 ? bulkIdRaw : undefined;
  const fail = (error: ScimError): InvalidBulkOperation => ({ index, method, bulkId, error });
  if (method !== 'POST' && method !== 'PUT' && method !== 'PATCH' && method !== 'DELETE') return fail(invalidSyntax(`Operations[${index}].method: expected POST, PUT, PATCH or DELETE`));
  if (bulkIdRaw !== undefined && (typeof bulkIdRaw !== 'string' || bulkIdRaw.length === 0 || bulkIdRaw.length > 256)) {
    return fail(invalidValue(`Operations[${index}].bulkId: expected a non-empty string`));
  }
  const path = o.get('path');
  if (typeof path !== 'string') return fail(new ScimError(400, 'invalidPath', `Operations[${index}].path: required`));
  const m = /^\/users(?:\/([^/?#]+))?\/?$/i.exec(path.trim());
  if (!m) return fail(new ScimError(400, 'invalidPath', `Operations[${index}].path: ${path} is not a User endpoint (/Users, /Users/{id})`));
  const resourceId = m[1] ? decodeURIComponent(m[1]) : undefined;
  if (method === 'POST') {
    if (resourceId) return fail(new ScimError(400, 'invalidPath', `Operations[${index}].path: POST goes to /Users`));
    if (!bulkId) return fail(invalidSyntax(`Operations[${index}].bulkId: required for POST`));
  } else if (!resourceId) return fail(new ScimError(400, 'invalidPath', `Operations[${index}].path: ${method} needs /Users/{id}`));
  const data = o.get('data');
  if (method !== 'DELETE' && (typeof data !== 'object' || data === null || Array.isArray(data))) return fail(invalidSyntax(`Operations[${index}].data: required, an object`));
  const version = o.get('version');
  return { index, method, bulkId, resourceId, data, version: typeof version === 'string' ? version : undefined };
}
