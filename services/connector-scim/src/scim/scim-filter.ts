type Json = Record<string, unknown>;

/**
 * A string literal in a SCIM filter. RFC 7644 §3.4.2.2 takes compValue strings from JSON
 * (RFC 7159): quotes, backslashes and control characters are escaped, so a value can never end
 * the literal early and add filter syntax of its own.
 */
export function scimString(value: string): string {
  return JSON.stringify(value);
}

/**
 * Characters that only reach a filter as escape sequences. Many SCIM services do not unescape
 * string literals (SCIMMY rejects `\"` and keeps `\\` as two backslashes), so a correctly escaped
 * look-up would fail there or silently find nothing (and a duplicate would be created).
 */
function needsEscape(ch: string): boolean {
  const c = ch.charCodeAt(0);
  // Lone surrogates come out of JSON.stringify as \uXXXX escapes too.
  return ch === '"' || ch === '\\' || c < 0x20 || c === 0x7f || c === 0x2028 || c === 0x2029 || (ch.length === 1 && c >= 0xd800 && c <= 0xdfff);
}

/** The parts of a value between characters that would need escapes. */
function cleanParts(value: string): string[] {
  const parts = [''];
  for (const ch of value) {
    if (needsEscape(ch)) parts.push('');
    else parts[parts.length - 1] += ch;
  }
  return parts.filter((p) => p !== '');
}

/** A filter for resources whose attribute equals a value, and the exact test the answers must pass. */
export interface EqualityLookup {
  /** The attribute looked up by (messages name it, never the value: that is personal data). */
  attribute: string;
  filter: string;
  /** True when the filter is `attr eq "value"`; false when it only narrows (`co`/`pr`) and the answers are many. */
  exact: boolean;
  matches(resource: Json): boolean;
}

/**
 * Looks a resource up by one attribute's value without trusting the service with escapes: a
 * value free of quotes, backslashes and control characters goes into `attr eq "value"`; any
 * other value is never written into a literal as a whole — the filter asks for its longest clean
 * part (`attr co "part"`, or `attr pr` when there is none) and `matches` keeps only the exact
 * equals. Either way the service's answers are checked here too (a service that ignores the
 * filter cannot make us adopt the wrong account). `caseExact` follows the attribute's schema
 * (RFC 7643: userName and displayName are not case-exact, externalId is).
 */
export function equalityLookup(attribute: string, value: string, caseExact: boolean): EqualityLookup {
  const norm = (s: string) => (caseExact ? s : s.toLowerCase());
  const wanted = norm(value);
  const matches = (r: Json) => typeof r[attribute] === 'string' && norm(r[attribute]) === wanted;
  if (plainFilterValue(value)) return { attribute, filter: `${attribute} eq ${scimString(value)}`, exact: true, matches };
  const part = cleanParts(value).reduce((a, b) => (b.length > a.length ? b : a), '');
  return { attribute, filter: part === '' ? `${attribute} pr` : `${attribute} co ${scimString(part)}`, exact: false, matches };
}

/** Whether a value can go into an `eq` literal as it is (the bulk look-up leaves the others to single reads). */
export function plainFilterValue(value: string): boolean {
  for (const ch of value) if (needsEscape(ch)) return false;
  return true;
}
