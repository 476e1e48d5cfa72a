/**
 * PII and secret redaction for logs, configured once for every service. Keys are matched
 * case-insensitively wherever they appear in a logged object; email addresses (also URL-encoded)
 * and the values of personal LDAP attributes in DNs and filters are masked in any string.
 */
const PII_KEYS = new Set(
  [
    'name', 'givenName', 'familyName', 'middleName', 'displayName', 'firstName', 'lastName', 'fullName', 'nickName',
    'formatted', 'email', 'emails', 'mail', 'phone', 'phoneNumber', 'phoneNumbers', 'mobile', 'address', 'addresses',
    'streetAddress', 'postalCode', 'birthDate', 'dateOfBirth', 'ssn', 'nationalId', 'userName', 'username', 'upn',
    'userPrincipalName', 'uid', 'cn', 'dn', 'sAMAccountName', 'password', 'unicodePwd', 'userPassword', 'secret',
    'token', 'accessToken', 'refreshToken', 'clientSecret', 'authorization', 'cookie', 'set-cookie', 'apiKey',
    'privateKey', 'attributes',
  ].map((k) => k.toLowerCase()),
);

// An email address also when it is URL-encoded (`ada%40example.org`, twice: `%2540`) or
// JSON-escaped (`\u0040`), as in the query strings of SCIM filter URLs in error messages.
const EMAIL = /[A-Za-z0-9._%+-]+(?:@|%40|%2540|\\u0040)[A-Za-z0-9.-]+\.[A-Za-z]{2,}/gi;
// Personal values in LDAP DNs and filters (`uid=ada,ou=people`, `(cn=Ada Lovelace)`): the value
// up to the next separator (`,` `+` `(` `)` `"` `;` `:` or a line end), escaped characters included.
const DN_VALUE = /\b(uid|cn|sn|givenName|displayName|mail|sAMAccountName|userPrincipalName|employeeNumber)=((?:\\.|[^,+()"';:\r\n\\])+)/gi;
export const REDACTED = '[redacted]';
const MAX_DEPTH = 8;

export function isPiiKey(key: string): boolean {
  return PII_KEYS.has(key.toLowerCase());
}

export function scrubString(value: string): string {
  return value.replace(EMAIL, '[email]').replace(DN_VALUE, (_m, attribute: string) => `${attribute}=${REDACTED}`);
}

/** A copy of `value` with PII keys replaced and email addresses masked. */
export function redactPii(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubString(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[truncated]';
  if (value instanceof Error) {
    return { type: value.name, message: scrubString(value.message), stack: value.stack ? scrubString(value.stack) : undefined, code: (value as { code?: unknown }).code };
  }
  if (Buffer.isBuffer(value)) return `[${value.length} bytes]`;
  if (Array.isArray(value)) return value.map((v) => redactPii(v, depth + 1));
  if (value instanceof Date) return value.toISOString();
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = isPiiKey(k) ? REDACTED : redactPii(v, depth + 1);
  return out;
}
