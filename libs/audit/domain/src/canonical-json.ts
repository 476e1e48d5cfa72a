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
    for (const k of Object.keys(o).sort()) {
      if (!indexKeys && isIndexKey(k)) indexKeys = true;
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
