/**
 * Canonical JSON (the JSON Canonicalization Scheme of RFC 8785 for the values audit stores:
 * strings, finite numbers, booleans, null, arrays and plain objects). Object members are sorted
 * by UTF-16 code units, no whitespace, numbers and strings serialized as ECMAScript does. Two
 * equal values always give the same text, whatever key order or whitespace a round trip through
 * PostgreSQL's jsonb produced. Hand-rolled (no intermediate arrays): it runs for every record.
 */
export function canonicalJson(value: unknown): string {
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
          out += v === undefined ? 'null' : canonicalJson(v);
        }
        return `${out}]`;
      }
      const o = value as Record<string, unknown>;
      const keys = Object.keys(o).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      let out = '{';
      let first = true;
      for (const k of keys) {
        const v = o[k];
        if (v === undefined) continue;
        if (!first) out += ',';
        first = false;
        out += `${JSON.stringify(k)}:${canonicalJson(v)}`;
      }
      return `${out}}`;
    }
    default:
      throw new TypeError(`canonical JSON has no representation for a ${typeof value}`);
  }
}
