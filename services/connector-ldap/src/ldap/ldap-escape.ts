/**
 * DN and filter escaping (RFC 4514, RFC 4515) and a DN parser for comparisons.
 *
 * Attribute values in DNs are escaped with hex pairs (`\2c`), never with the backslash-character
 * form (`\,`): the output then contains no `\,` at all, so every comma in a DN string is an RDN
 * separator — which clients that split DNs naively (ldapts's modifyDN) rely on.
 */

const hex = (b: number) => `\\${b.toString(16).padStart(2, '0')}`;

/** Characters RFC 4514 requires escaping anywhere in a value, plus `=` (allowed, but confuses naive parsers). */
const DN_SPECIAL = new Set(['"', '+', ',', ';', '<', '>', '\\', '=', '\u0000']);

// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const NEEDS_DN_ESCAPE = /["+,;<>\\=\u0000-\u001f\u007f]|^[ #]| $/;

/** Escapes one attribute value for use in a DN (RFC 4514 §2.4). */
export function escapeDnValue(value: string): string {
  // Most values need no escape at all (reconciliation normalizes every member DN it reads).
  if (!NEEDS_DN_ESCAPE.test(value)) return value;
  let out = '';
  const chars = [...value];
  chars.forEach((ch, i) => {
    const leading = i === 0 && (ch === ' ' || ch === '#');
    const trailing = i === chars.length - 1 && ch === ' ';
    if (DN_SPECIAL.has(ch) || leading || trailing) out += hex(ch.charCodeAt(0));
    else if (ch < ' ' || ch === '\u007f') out += hex(ch.charCodeAt(0));
    else out += ch;
  });
  return out;
}

const HEX_PAIR = /^[0-9a-fA-F]{2}$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Reverses escapeDnValue and also reads `\<char>` escapes and hex-escaped UTF-8 sequences. */
export function unescapeDnValue(escaped: string): string {
  // No escapes: the value itself (lone surrogates become U+FFFD, as through UTF-8 and back).
  if (!escaped.includes('\\')) return escaped.toWellFormed();
  const parts: Buffer[] = [];
  let plain = 0;
  for (let i = 0; i < escaped.length; ) {
    if (escaped[i] !== '\\') {
      i++;
      continue;
    }
    if (i > plain) parts.push(Buffer.from(escaped.slice(plain, i), 'utf8'));
    const pair = escaped.slice(i + 1, i + 3);
    if (HEX_PAIR.test(pair)) {
      parts.push(Buffer.from([parseInt(pair, 16)]));
      i += 3;
    } else {
      const next = escaped.codePointAt(i + 1);
      if (next === undefined) throw new SyntaxError('DN value ends with a lone backslash');
      const ch = String.fromCodePoint(next);
      parts.push(Buffer.from(ch, 'utf8'));
      i += 1 + ch.length;
    }
    plain = i;
  }
  if (plain < escaped.length) parts.push(Buffer.from(escaped.slice(plain), 'utf8'));
  return UTF8.decode(Buffer.concat(parts));
}

export interface Rdn {
  type: string;
  value: string;
}

/** Splits a DN into RDNs (each possibly multi-valued: `cn=a+sn=b`), unescaping values. */
export function parseDn(dn: string): Rdn[][] {
  const rdns: Rdn[][] = [];
  let current: Rdn[] = [];
  let buf = '';
  let type: string | undefined;
  const flush = () => {
    // Position only: a DN holds personal values, and this message can reach results and logs.
    if (type === undefined) throw new SyntaxError(`invalid DN (attribute without "=" in RDN ${rdns.length + 1})`);
    current.push({ type: type.trim(), value: unescapeDnValue(buf.replace(/^ +/, '').replace(/(?<!\\) +$/, '')) });
    buf = '';
    type = undefined;
  };
  if (dn.trim() === '') return [];
  for (let i = 0; i < dn.length; i++) {
    const ch = dn[i]!;
    if (ch === '\\') {
      buf += ch + (dn[i + 1] ?? '');
      i++;
    } else if (ch === '=' && type === undefined) {
      type = buf;
      buf = '';
    } else if (ch === '+' && type !== undefined) {
      flush();
    } else if ((ch === ',' || ch === ';') && type !== undefined) {
      flush();
      rdns.push(current);
      current = [];
    } else buf += ch;
  }
  flush();
  rdns.push(current);
  return rdns;
}

/** A DN string built from parsed RDNs, with our escaping. */
export function formatDn(rdns: Rdn[][]): string {
  return rdns.map((rdn) => rdn.map((a) => `${a.type}=${escapeDnValue(a.value)}`).join('+')).join(',');
}

/** Comparable form: attribute types and values lower-cased, escaping canonical, multi-valued RDNs sorted. */
export function normalizeDn(dn: string): string {
  return parseDn(dn)
    .map((rdn) =>
      rdn
        .map((a) => `${a.type.toLowerCase()}=${escapeDnValue(a.value.toLowerCase())}`)
        .sort()
        .join('+'),
    )
    .join(',');
}

export function sameDn(a: string, b: string): boolean {
  try {
    return normalizeDn(a) === normalizeDn(b);
  } catch {
    return a.toLowerCase() === b.toLowerCase();
  }
}

/** The parent DN (everything after the first RDN). */
export function parentDn(dn: string): string {
  return formatDn(parseDn(dn).slice(1));
}

/** Escapes a value for an LDAP search filter (RFC 4515 §3): `*`, `(`, `)`, `\` and NUL as hex pairs. */
export function escapeFilterValue(value: string): string {
  let out = '';
  for (const ch of value) {
    if (ch === '*' || ch === '(' || ch === ')' || ch === '\\' || ch === '\u0000') out += hex(ch.charCodeAt(0));
    else out += ch;
  }
  return out;
}

/** Escapes raw bytes (a binary attribute such as objectGUID) for a filter: every byte as a hex pair. */
export function escapeFilterBytes(bytes: Uint8Array): string {
  return [...bytes].map(hex).join('');
}

/** `(attr=value)` with the value escaped. Attribute names are checked, never escaped. */
export function eq(attribute: string, value: string): string {
  if (!/^[A-Za-z][A-Za-z0-9-]*(;[A-Za-z0-9-]+)*$|^\d+(\.\d+)+$/.test(attribute)) throw new SyntaxError(`invalid attribute name ${JSON.stringify(attribute)}`);
  return `(${attribute}=${escapeFilterValue(value)})`;
}
