/**
 * Canonical JSON (the JSON Canonicalization Scheme of RFC 8785 for the values audit stores:
 * strings, finite numbers, booleans, null, arrays and plain objects). Object members are sorted
 * by UTF-16 code units, no whitespace, numbers and strings serialized as ECMAScript does. Two
 * equal values always give the same text, whatever key order or whitespace a round trip through
 * PostgreSQL's jsonb produced. Hand-rolled (no intermediate arrays): it runs for every record.
 */
export function canonicalJson(value: unknown): string {
  return sortedJson(value).text;
}

/** The serializer itself; used directly where member names are array indexes (see isIndexKey). */
function canonicalByHand(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON has no representation for ${value}`);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          const v: unknown = value[i];
          out += v === undefined ? 'null' : canonicalByHand(v);
        }
        return `${out}]`;
      }
      const o = value as Record<string, unknown>;
      // The default sort compares UTF-16 code units, which is what RFC 8785 asks for.
      const keys = Object.keys(o).sort();
      let out = '{';
      let first = true;
      for (const k of keys) {
        const v = o[k];
        if (v === undefined) continue;
        if (!first) out += ',';
        first = false;
        out += `${JSON.stringify(k)}:${canonicalByHand(v)}`;
      }
      return `${out}}`;
    }
    default:
      throw new TypeError(`canonical JSON has no representation for a ${typeof value}`);
  }
}

/**
 * Whether `JSON.stringify` of an object whose members were inserted in sorted order gives its
 * canonical text: true unless a member name is an array index, which JavaScript engines always
 * enumerate first, in numeric order ("10" before "9").
 */
export function isIndexKey(k: string): boolean {
  const c = k.charCodeAt(0);
  return c >= 48 && c <= 57 && /^(?:0|[1-9]\d{0,9})$/.test(k) && Number(k) < 4_294_967_295;
}

/** An object's member names in canonical order, remembered for a sequence of own member names. */
export interface MemberOrder {
  /** The own enumerable member names as `Object.keys` gives them. */
  readonly keys: readonly string[];
  /** The same names sorted by UTF-16 code units (canonical order). */
  readonly sorted: readonly string[];
  /** `sorted`, lower-cased (personal-data field names are matched case-insensitively). */
  readonly lower: readonly string[];
  /** Whether a name is an array index (see isIndexKey). */
  readonly indexKeys: boolean;
}

const NO_MEMBERS: MemberOrder = { keys: [], sorted: [], lower: [], indexKeys: false };
// Payloads repeat the same few member sequences (a schema's record fields, the CloudEvents
// headers) on every record: their sorted order is kept, found by the first name and compared
// name by name (property names are internalized strings: a pointer comparison each).
const orders = new Map<string, MemberOrder[]>();
let remembered = 0;
const MAX_REMEMBERED = 2_000;
const MAX_PER_FIRST_NAME = 16;
const MAX_REMEMBERED_KEYS = 256;

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The member names of an object in canonical order: `Object.keys(o).sort()`, without sorting
 * again a sequence of names seen before.
 */
export function memberOrder(o: object): MemberOrder {
  const keys = Object.keys(o);
  if (keys.length === 0) return NO_MEMBERS;
  const known = orders.get(keys[0]!);
  if (known) for (const m of known) if (sameNames(m.keys, keys)) return m;
  const sorted = [...keys].sort();
  const order: MemberOrder = { keys, sorted, lower: sorted.map((k) => k.toLowerCase()), indexKeys: keys.some(isIndexKey) };
  if (remembered < MAX_REMEMBERED && keys.length <= MAX_REMEMBERED_KEYS && (known?.length ?? 0) < MAX_PER_FIRST_NAME) {
    if (known) known.push(order);
    else orders.set(keys[0]!, [order]);
    remembered++;
  }
  return order;
}

/**
 * A copy of a JSON value with every object's members in canonical order, and its canonical
 * text (JSON.stringify of the sorted copy, faster than serializing by hand).
 */
export function sortedJson(value: unknown): { value: unknown; text: string } {
  let indexKeys = false;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'number' && !Number.isFinite(v)) throw new TypeError(`canonical JSON has no representation for ${v}`);
    if (v === null || typeof v !== 'object') {
      if (typeof v === 'bigint' || typeof v === 'function' || typeof v === 'symbol') throw new TypeError(`canonical JSON has no representation for a ${typeof v}`);
      return v;
    }
    if (Array.isArray(v)) return v.map(walk);
    const o = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    const order = memberOrder(o);
    if (order.indexKeys) indexKeys = true;
    for (const k of order.sorted) {
      const x = walk(o[k]);
      if (k === '__proto__') Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
      else out[k] = x;
    }
    return out;
  };
  const copy = walk(value);
  if (copy === undefined) throw new TypeError('canonical JSON has no representation for undefined');
  return { value: copy, text: indexKeys ? canonicalByHand(copy) : JSON.stringify(copy) };
}
