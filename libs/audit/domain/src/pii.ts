import { canonicalJson, memberOrder } from './canonical-json.js';
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';

/**
 * Attribute-level encryption of personal data with one key per person (AES-256-GCM). Stored
 * values keep their shape; each personal field becomes a marker:
 *   - `{"$pii": i}` (current): the i-th entry of the record's one PII envelope, an AES-GCM
 *     ciphertext of `[[path, value], ...]` bound to the record (one cipher per record);
 *   - `{"$pii": "<base64 iv‖ciphertext‖tag>"}` (first format, still read): one ciphertext per
 *     field, bound to record and field path.
 * Deleting the person's key (crypto-shredding) makes those fields unreadable while the stored
 * bytes — and so the hash chain — stay exactly as they were.
 */
export const PII_MARKER = '$pii';
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const DATA_KEY_BYTES = 32;

/** Field names (case-insensitive) whose values are personal data in any payload. */
const PII_FIELDS = new Set(
  [
    'name', 'givenName', 'familyName', 'middleName', 'displayName', 'firstName', 'lastName', 'fullName', 'nickName', 'formatted',
    'email', 'emails', 'mail', 'phone', 'phoneNumber', 'phoneNumbers', 'mobile', 'address', 'addresses', 'streetAddress', 'postalCode',
    'birthDate', 'dateOfBirth', 'ssn', 'nationalId', 'userName', 'username', 'upn', 'userPrincipalName', 'uid', 'cn', 'dn',
    'sAMAccountName', 'accountName', 'employeeNumber', 'workerId', 'password', 'userPassword', 'unicodePwd', 'secret',
  ].map((k) => k.toLowerCase()),
);

/** Maps whose every value is personal data (target attributes, HR extension attributes). */
const PII_MAPS = new Set(['attributes', 'custom'].map((k) => k.toLowerCase()));

/**
 * Fields that are personal data in one schema only (free text that may quote a target's error:
 * names, DNs, e-mail addresses), by JSON path.
 */
const PII_PATHS: Record<string, ReadonlySet<string>> = {
  ProvisioningResult: new Set(['$.error.message']),
};
const NO_PATHS: ReadonlySet<string> = new Set();

/**
 * Field names (lower case) that are personal data wherever they occur in one schema's payload:
 * a PolicyDecision's scope steps quote the person's HR value each comparison read (`actual`;
 * the account name is sealed by name like everywhere). Group names, rule ids, expressions and
 * fact names are policy, not personal data.
 */
const PII_SCHEMA_FIELDS: Record<string, ReadonlySet<string>> = {
  PolicyDecision: new Set(['actual']),
};
const NO_FIELDS: ReadonlySet<string> = new Set();

/** Kafka headers whose value is free text that may carry personal data (the dead-letter error). */
export const PII_HEADERS: readonly string[] = ['dlt-error-message'];
/** Prefix of a sealed header value: `$pii:` + base64(iv‖ciphertext‖tag). */
export const SEALED_HEADER_PREFIX = '$pii:';

/** Schemas whose `attributes` is a map of target attribute values rather than a record of named HR fields. */
const ATTRIBUTE_MAP_SCHEMAS = new Set(['ProvisioningCommand']);

export function isPiiField(name: string): boolean {
  return PII_FIELDS.has(name.toLowerCase());
}

/** A data key as raw bytes, or (faster when reused) as a secret KeyObject. */
export type DataKey = Buffer | KeyObject;

/** Wraps raw key bytes once, so every cipher does not build its own key object. */
export function dataKeyObject(key: Buffer): KeyObject {
  return createSecretKey(key);
}

// Random IVs drawn from a pool refilled in bulk: one system call per 1024 IVs.
const IV_POOL_SIZE = 1024;
let ivPool = Buffer.alloc(0);
let ivNext = 0;
function nextIv(): Buffer {
  if (ivNext >= ivPool.length) {
    ivPool = randomBytes(IV_BYTES * IV_POOL_SIZE);
    ivNext = 0;
  }
  const iv = ivPool.subarray(ivNext, ivNext + IV_BYTES);
  ivNext += IV_BYTES;
  return iv;
}

export function encryptBytes(key: DataKey, plaintext: Buffer, aad: string): Buffer {
  const iv = nextIv();
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = cipher.update(plaintext);
  const last = cipher.final();
  return Buffer.concat([iv, body, last, cipher.getAuthTag()]);
}

export function decryptBytes(key: DataKey, blob: Buffer, aad: string): Buffer {
  if (blob.length < IV_BYTES + TAG_BYTES) throw new Error('ciphertext too short');
  const decipher = createDecipheriv('aes-256-gcm', key, blob.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
  return Buffer.concat([decipher.update(blob.subarray(IV_BYTES, blob.length - TAG_BYTES)), decipher.final()]);
}

/** Wraps (encrypts) a person's data key with the key-encryption key, bound to the person and key id. */
export function wrapDataKey(kek: DataKey, dataKey: Buffer, personId: string, keyId: string): Buffer {
  return encryptBytes(kek, dataKey, `provisio.audit.person-key:${personId}:${keyId}`);
}

export function unwrapDataKey(kek: DataKey, wrapped: Buffer, personId: string, keyId: string): Buffer {
  return decryptBytes(kek, wrapped, `provisio.audit.person-key:${personId}:${keyId}`);
}

export function newDataKey(): Buffer {
  return randomBytes(DATA_KEY_BYTES);
}

/** Assigns an own property even for keys like `__proto__` that JSON payloads may carry. */
function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function sealValue(key: DataKey, value: unknown, aad: string): { [PII_MARKER]: string } {
  return { [PII_MARKER]: encryptBytes(key, Buffer.from(JSON.stringify(value), 'utf8'), aad).toString('base64') };
}

export function isSealed(v: unknown): v is { [PII_MARKER]: string } {
  return isPlainObject(v) && typeof v[PII_MARKER] === 'string' && Object.keys(v).length === 1;
}

function isEnvelopeMarker(v: unknown): v is { [PII_MARKER]: number } {
  return isPlainObject(v) && Number.isSafeInteger(v[PII_MARKER]) && (v[PII_MARKER] as number) >= 0 && Object.keys(v).length === 1;
}

/**
 * Encrypts the personal fields of a decoded payload. `aad` binds each ciphertext to its record
 * (topic/partition/offset) and field path, so ciphertexts cannot be moved between records.
 */
export function sealPersonalData(json: unknown, key: DataKey, aad: string, schema: string | null): { json: unknown; sealed: number } {
  let sealed = 0;
  const fields = (schema !== null ? PII_SCHEMA_FIELDS[schema] : undefined) ?? NO_FIELDS;
  const walk = (v: unknown, path: string, mapOfPii: boolean): unknown => {
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${path}[${i}]`, false));
    if (!isPlainObject(v)) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const p = `${path}.${k}`;
      const lower = k.toLowerCase();
      if (x !== null && (mapOfPii || isPiiField(k) || fields.has(lower))) {
        setOwn(out, k, sealValue(key, x, `${aad}|${p}`));
        sealed++;
      } else if (isPlainObject(x) && PII_MAPS.has(lower) && (lower !== 'attributes' || (schema !== null && ATTRIBUTE_MAP_SCHEMAS.has(schema)))) {
        setOwn(out, k, walk(x, p, true));
      } else {
        setOwn(out, k, walk(x, p, false));
      }
    }
    return out;
  };
  const result = walk(json, '$', false);
  return { json: result, sealed };
}

/**
 * Seals a decoded payload's personal fields into one envelope (one AES-GCM operation per record
 * instead of one per field): each field becomes `{"$pii": i}` and the envelope holds
 * `[[path, value], ...]`, bound to the record by `aad`. A marker moved to another field no
 * longer matches its entry's path and is not revealed there.
 */
export function sealRecordPii(json: unknown, key: DataKey, aad: string, schema: string | null): { json: unknown; envelope: Buffer | null; sealed: number; canonical: string } {
  const entries: [string, unknown][] = [];
  const paths = (schema !== null ? PII_PATHS[schema] : undefined) ?? NO_PATHS;
  const fields = (schema !== null ? PII_SCHEMA_FIELDS[schema] : undefined) ?? NO_FIELDS;
  let indexKeys = false;
  // Members are copied in canonical order, so the canonical text is JSON.stringify of the copy.
  const schemaPaths = paths.size > 0;
  const walk = (v: unknown, path: string, mapOfPii: boolean): unknown => {
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${path}[${i}]`, false));
    if (!isPlainObject(v)) return v;
    const out: Record<string, unknown> = {};
    const order = memberOrder(v);
    if (order.indexKeys) indexKeys = true;
    const names = order.sorted;
    for (let i = 0; i < names.length; i++) {
      const k = names[i]!;
      const x = v[k];
      const lower = order.lower[i]!;
      // The member's path is built only where it is needed: an envelope entry, a schema's
      // personal path, or the members below it.
      if (x !== null && (mapOfPii || PII_FIELDS.has(lower) || fields.has(lower) || (schemaPaths && paths.has(`${path}.${k}`)))) {
        setOwn(out, k, { [PII_MARKER]: entries.length });
        entries.push([`${path}.${k}`, x]);
      } else if (x === null || typeof x !== 'object') {
        setOwn(out, k, x);
      } else if (isPlainObject(x) && PII_MAPS.has(lower) && (lower !== 'attributes' || (schema !== null && ATTRIBUTE_MAP_SCHEMAS.has(schema)))) {
        setOwn(out, k, walk(x, `${path}.${k}`, true));
      } else {
        setOwn(out, k, walk(x, `${path}.${k}`, false));
      }
    }
    return out;
  };
  const result = walk(json, '$', false);
  const canonical = indexKeys ? canonicalJson(result) : JSON.stringify(result);
  if (entries.length === 0) return { json: result, envelope: null, sealed: 0, canonical };
  return { json: result, envelope: encryptBytes(key, Buffer.from(JSON.stringify(entries), 'utf8'), envelopeAad(aad)), sealed: entries.length, canonical };
}

function envelopeAad(aad: string): string {
  return `${aad}|envelope`;
}

export interface RevealResult {
  json: unknown;
  /** True when personal fields could not be decrypted because the person's key is gone. */
  shredded: boolean;
}

/**
 * Decrypts sealed fields with the person's key (and the record's envelope, for `{"$pii": i}`
 * markers); without the key they become null (shredded).
 */
export function revealPersonalData(json: unknown, key: DataKey | null, aad: string, envelope: Buffer | null = null): RevealResult {
  let shredded = false;
  let entries: [string, unknown][] | null | undefined;
  const entry = (i: number, path: string): unknown => {
    if (entries === undefined) {
      entries = null;
      if (key && envelope) {
        try {
          const parsed = JSON.parse(decryptBytes(key, envelope, envelopeAad(aad)).toString('utf8')) as unknown;
          if (Array.isArray(parsed)) entries = parsed as [string, unknown][];
        } catch {
          entries = null;
        }
      }
    }
    const e = entries?.[i];
    if (!e || e[0] !== path) {
      shredded = true;
      return null;
    }
    return e[1];
  };
  const walk = (v: unknown, path: string): unknown => {
    if (isEnvelopeMarker(v)) return entry(v[PII_MARKER], path);
    if (isSealed(v)) {
      if (!key) {
        shredded = true;
        return null;
      }
      try {
        return JSON.parse(decryptBytes(key, Buffer.from(v[PII_MARKER], 'base64'), `${aad}|${path}`).toString('utf8')) as unknown;
      } catch {
        shredded = true;
        return null;
      }
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${path}[${i}]`));
    if (!isPlainObject(v)) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) setOwn(out, k, walk(x, `${path}.${k}`));
    return out;
  };
  return { json: walk(json, '$'), shredded };
}

/** The additional authenticated data of one record's ciphertexts. */
export function recordAad(topic: string, partition: number, offset: string): string {
  return `provisio.audit.pii:${topic}/${partition}/${offset}`;
}

/**
 * Seals the headers of PII_HEADERS with the person's key (bound to record and header name); the
 * others stay readable (ids, types, trace context, dead-letter origin and class).
 */
export function sealHeaders(headers: Record<string, string>, key: DataKey, aad: string): Record<string, string> {
  let out: Record<string, string> | undefined;
  for (const h of PII_HEADERS) {
    const v = headers[h];
    if (v === undefined || v === '') continue;
    out ??= { ...headers };
    out[h] = SEALED_HEADER_PREFIX + encryptBytes(key, Buffer.from(v, 'utf8'), `${aad}|header:${h}`).toString('base64');
  }
  return out ?? headers;
}

/** One header's readable value: decrypted when sealed and the key is there, null when shredded. */
export function revealHeader(headers: Record<string, string>, name: string, key: DataKey | null, aad: string): string | null {
  const v = headers[name];
  if (v === undefined) return null;
  if (!v.startsWith(SEALED_HEADER_PREFIX)) return v;
  if (!key) return null;
  try {
    return decryptBytes(key, Buffer.from(v.slice(SEALED_HEADER_PREFIX.length), 'base64'), `${aad}|header:${name}`).toString('utf8');
  } catch {
    return null;
  }
}
