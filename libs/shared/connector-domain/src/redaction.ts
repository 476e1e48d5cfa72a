import { ConnectorError, toConnectorError } from './connector-error.js';
import type { Attributes, DesiredAccount, TargetAccount } from './target-connector.js';

/**
 * Error texts without personal data. A connector error's message goes into results, dead-letter
 * headers, drift events, reconciliation runs and log lines, which are read far more widely than
 * the target: it may name the target, the account's ref, attribute names and rules, never the
 * account's name, DN, email or other attribute values — also not when the target's own message
 * (a PostgreSQL error, an LDAP diagnostic, a SCIM error detail) echoes them.
 */
export const REDACTED_VALUE = '[redacted]';

const EMAIL = /[A-Za-z0-9._%+-]+(?:@|%40|%2540|\\u0040)[A-Za-z0-9.-]+\.[A-Za-z]{2,}/gi;
// The value of every `attribute=value` in a DN or filter (`uid=ada,ou=people`, `(mail=…)`), escapes included.
const DN_VALUE = /(?<![\w-])([A-Za-z][\w-]*)=((?:\\.|[^,+()"';:\r\n\\=])+)/g;
const SPECIAL = /[.*+?^${}()|[\]\\]/g;
const WORD = '[\\p{L}\\p{N}_]';

/**
 * `text` with every occurrence of these values (case-insensitive, as a whole: not inside a longer
 * word) replaced by [redacted]. Longer values go first, so a DN is replaced before the name in it.
 */
export function redactValues(text: string, values: Iterable<string | null | undefined>): string {
  const list = [...new Set([...values].filter((v): v is string => typeof v === 'string' && v.trim().length >= 2))].sort((a, b) => b.length - a.length);
  let out = text;
  for (const v of list) out = out.replace(new RegExp(`(?<!${WORD})${v.replace(SPECIAL, '\\$&')}(?!${WORD})`, 'giu'), REDACTED_VALUE);
  return out;
}

/**
 * A target's own message text with what commonly identifies a person masked: email addresses and
 * the values of `attribute=value` pairs (DNs, filters). For texts the connector did not write.
 */
export function scrubTargetText(text: string): string {
  return text.replace(EMAIL, '[email]').replace(DN_VALUE, (_m, attribute: string) => `${attribute}=${REDACTED_VALUE}`);
}

function attributeValues(attributes: Attributes | undefined): string[] {
  const out: string[] = [];
  for (const v of Object.values(attributes ?? {})) {
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) out.push(...v);
  }
  return out;
}

/** The personal values a command or an account brings into a target call: names, DN, attribute values. */
export function personalValues(desired?: DesiredAccount | null, ...accounts: (TargetAccount | null | undefined)[]): string[] {
  const out: string[] = [];
  if (desired) out.push(desired.accountName, ...attributeValues(desired.attributes));
  for (const a of accounts) {
    if (!a) continue;
    out.push(a.name, ...attributeValues(a.attributes));
    if (a.location) out.push(a.location);
  }
  return out;
}

/** The error as a ConnectorError whose message names none of these values (the same error when it names none). */
export function withoutValues(e: unknown, values: Iterable<string | null | undefined>): ConnectorError {
  const err = toConnectorError(e);
  const message = redactValues(err.message, values);
  return message === err.message ? err : new ConnectorError(err.code, message, err.options);
}
