import { avroCodec } from '@provisio/contracts';
import type { ConsumedMessage } from '@provisio/messaging';
import type { RecordContent } from '@provisio/audit-domain';

export type UnsealedContent = Omit<RecordContent, 'recordedAt'> & {
  /** The original value bytes (sealed later with the person's key). */
  raw: Buffer | null;
  /** Who the record is about: the Kafka key, else the payload's personId. */
  personId: string | null;
};

// PostgreSQL text cannot hold NUL characters.
const NUL = new RegExp(String.fromCharCode(0), 'g');
// jsonb refuses NUL characters and unpaired surrogates; PostgreSQL text refuses NUL.
const JSON_UNSTORABLE = /\\u0000|\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2}/i;

function clean(s: string): string {
  return s.includes('\u0000') ? s.replace(NUL, '\uFFFD') : s;
}

/** Kafka header and key text as stored: NUL (which PostgreSQL text cannot hold) becomes U+FFFD. */
export function storableHeaders(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    const name = clean(k);
    if (name === '__proto__') Object.defineProperty(out, name, { value: clean(v), enumerable: true, writable: true, configurable: true });
    else out[name] = clean(v);
  }
  return out;
}

function jsonPayload(headers: Record<string, string>, bytes: Buffer): unknown {
  const ct = headers['content-type'] ?? '';
  if (!/json/i.test(ct)) return undefined;
  return JSON.parse(bytes.toString('utf8')) as unknown;
}

/**
 * Whether a decoded value is already what JSON.parse(JSON.stringify(value)) would give back (up
 * to -0, which serializes as 0 either way): strings, finite numbers, booleans, null, dense arrays
 * and objects without toJSON whose members are all such values. Then the JSON round trip that
 * makes the hashed value equal to what jsonb returns can be skipped.
 */
export function isPlainJson(v: unknown): boolean {
  return plainJsonWith(v, anyString);
}

const anyString = (): boolean => true;

/** The walk of isPlainJson, with a test every string (member names included) must pass. */
function plainJsonWith(v: unknown, stringOk: (s: string) => boolean): boolean {
  if (v === null) return true;
  switch (typeof v) {
    case 'string':
      return stringOk(v);
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(v);
    case 'object': {
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (!(i in v) || !plainJsonWith(v[i], stringOk)) return false;
        return true;
      }
      if (typeof (v as { toJSON?: unknown }).toJSON === 'function' || ArrayBuffer.isView(v)) return false;
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) if (!stringOk(k) || !plainJsonWith(o[k], stringOk)) return false;
      return true;
    }
    default:
      return false;
  }
}

// A string whose JSON text may hold what JSON_UNSTORABLE looks for: a backslash (escaped as
// `\\`), NUL or a surrogate code unit. Any other string cannot match it.
const MAY_BE_UNSTORABLE = new RegExp(`[\\\\${String.fromCharCode(0)}\\ud800-\\udfff]`);

function storableString(s: string): boolean {
  return !MAY_BE_UNSTORABLE.test(s) || !JSON_UNSTORABLE.test(JSON.stringify(s));
}

/**
 * `isPlainJson(v)` and, for every string in it (member names included), that its JSON text
 * holds nothing JSON_UNSTORABLE finds. True means the decoded value is stored as it is, without
 * serializing it to look: JSON_UNSTORABLE only ever matches inside one string's JSON text (a
 * backslash occurs nowhere else in JSON), so checking each string gives the answer the whole
 * text would. False: decide on the whole text, as before.
 */
export function isPlainStorableJson(v: unknown): boolean {
  return plainJsonWith(v, storableString);
}

/**
 * Decodes one Kafka record for the store: Avro single-object encoding with any schema version
 * this build knows, JSON when the content type says so; anything else is kept as raw bytes with
 * the reason it could not be decoded.
 */
export function decodeRecord(m: ConsumedMessage<Buffer | null>): UnsealedContent {
  const headers = storableHeaders(m.headers);
  let json: unknown = null;
  let schema: RecordContent['schema'] = null;
  let decodeError: string | null = null;
  if (m.value && m.value.length > 0) {
    try {
      const d = avroCodec().decodeAny(m.value);
      json = d.value;
      schema = { name: d.schema, version: d.writerVersion, fingerprint: d.fingerprint };
    } catch (e) {
      try {
        const j = jsonPayload(headers, m.value);
        if (j === undefined) decodeError = (e as Error).message.slice(0, 500);
        else json = j;
      } catch (je) {
        decodeError = `not Avro (${(e as Error).message.slice(0, 200)}) and not JSON (${(je as Error).message.slice(0, 200)})`;
      }
    }
  }
  if (json !== null && !isPlainStorableJson(json)) {
    // Round-trip through JSON so what is hashed is exactly what jsonb gives back.
    const text = JSON.stringify(json);
    if (text === undefined || JSON_UNSTORABLE.test(text)) {
      json = null;
      schema = null;
      decodeError = 'decoded value holds characters PostgreSQL JSON cannot store; raw bytes kept';
    } else if (!isPlainJson(json)) {
      json = JSON.parse(text) as unknown;
    }
  }
  const key = m.key === null ? null : clean(m.key);
  const personFromPayload = json && typeof json === 'object' && typeof (json as { personId?: unknown }).personId === 'string' ? clean((json as { personId: string }).personId) : null;
  return {
    topic: m.topic,
    partition: m.partition,
    offset: m.offset,
    key,
    timestamp: Number.isFinite(m.timestamp) ? m.timestamp : 0,
    headers,
    payload: null,
    keyId: null,
    json,
    schema,
    // Error texts may quote the bad input: keep them storable as PostgreSQL text.
    decodeError: decodeError === null ? null : clean(decodeError.toWellFormed()),
    raw: m.value,
    personId: key ?? personFromPayload,
  };
}
