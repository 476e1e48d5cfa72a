import { createHash, randomBytes } from 'node:crypto';
import { ConnectorError, ConnectorErrorCode } from '@provisio/connector-kit';
import { escapeFilterBytes } from './ldap-escape.js';

/**
 * Everything that differs between OpenLDAP and Active Directory, in one place: the immutable id,
 * the naming attribute, object classes, how an account is enabled or disabled, and passwords.
 */
export type DisableMethod =
  | { method: 'ppolicy' }
  | { method: 'attribute'; attribute: string; disabledValue: string; enabledValue: string | null }
  | { method: 'move'; disabledBase: string };

export interface EntryView {
  dn: string;
  get(name: string): string[];
  getBuffer(name: string): Buffer | undefined;
}

export type ModOp = { operation: 'add' | 'delete' | 'replace'; type: string; values: string[] | Buffer[] };

export interface Dialect {
  readonly name: 'openldap' | 'ad';
  /** Attribute holding the immutable id (entryUUID, objectGUID). */
  readonly refAttribute: string;
  /** Attributes returned as bytes. */
  readonly binaryAttributes: string[];
  /** The account name attribute (uid, sAMAccountName). */
  readonly nameAttribute: string;
  readonly defaultDnTemplate: string;
  readonly userObjectClasses: string[];
  readonly groupObjectClasses: string[];
  /** Operational attributes to request besides `*`. */
  readonly operationalAttributes: string[];
  refOf(entry: EntryView): string;
  refFilter(ref: string): string;
  isEnabled(entry: EntryView, disable: DisableMethod): boolean;
  /** Attribute changes that enable or disable (a `move` method is done by the connector). */
  enableChanges(entry: EntryView, disable: DisableMethod): ModOp[];
  disableChanges(entry: EntryView, disable: DisableMethod): ModOp[];
  /** Extra attributes of a new account. */
  creationAttributes(accountName: string, enabled: boolean, o: { upnSuffix?: string | undefined }): Record<string, string[]>;
  /** The filter that selects user accounts (objectClasses: the configured ones, the structural class last). */
  userFilter(objectClasses: string[]): string;
  /** Throws a permanent error for an account name the directory would refuse. */
  checkAccountName(accountName: string): void;
  /** The directory itself keeps group `member` values pointing at a renamed or moved entry (AD linked attributes). */
  readonly maintainsMemberReferences: boolean;
  /** The changes that give an account a new name (besides the DN's RDN). */
  nameChanges(accountName: string, o: { upnSuffix?: string | undefined }): ModOp[];
  /** A new account that gets a password is created disabled, and enabled after the password is set (AD). */
  readonly enableAfterPassword: boolean;
  /** The password attribute and value; AD accepts unicodePwd only over an encrypted connection. */
  passwordChange(password: string, encrypted: boolean, hash?: 'ssha' | 'cleartext'): ModOp;
}

/** RFC 2307 style salted SHA-1 (`{SSHA}` base64(SHA1(password + salt) + salt)), 8 random salt bytes: what stock slapd verifies natively. */
export function sshaHash(password: string, salt: Buffer = randomBytes(8)): string {
  const digest = createHash('sha1').update(Buffer.from(password, 'utf8')).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

/** Permanently locked in ppolicy terms ("000001010000Z": locked until an administrator unlocks). */
const PPOLICY_LOCKED = '000001010000Z';

export const OpenLdapDialect: Dialect = {
  name: 'openldap',
  refAttribute: 'entryUUID',
  binaryAttributes: [],
  nameAttribute: 'uid',
  defaultDnTemplate: 'uid={accountName}',
  userObjectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
  groupObjectClasses: ['groupOfNames', 'groupOfUniqueNames', 'posixGroup'],
  operationalAttributes: ['entryUUID', 'pwdAccountLockedTime'],
  refOf: (e) => e.get('entryUUID')[0] ?? '',
  refFilter: (ref) => {
    if (!/^[0-9a-f-]{36}$/i.test(ref)) throw new ConnectorError(ConnectorErrorCode.Rejected, `not an entryUUID: ${ref}`);
    return `(entryUUID=${ref})`;
  },
  isEnabled: (e, d) => {
    if (d.method === 'ppolicy') return e.get('pwdAccountLockedTime').length === 0;
    if (d.method === 'attribute') return !e.get(d.attribute).includes(d.disabledValue);
    return true; // move: decided by the connector from the DN
  },
  enableChanges: (_e, d) => {
    if (d.method === 'ppolicy') return [{ operation: 'delete', type: 'pwdAccountLockedTime', values: [] }];
    if (d.method === 'attribute') return d.enabledValue === null ? [{ operation: 'delete', type: d.attribute, values: [] }] : [{ operation: 'replace', type: d.attribute, values: [d.enabledValue] }];
    return [];
  },
  disableChanges: (_e, d) => {
    if (d.method === 'ppolicy') return [{ operation: 'replace', type: 'pwdAccountLockedTime', values: [PPOLICY_LOCKED] }];
    if (d.method === 'attribute') return [{ operation: 'replace', type: d.attribute, values: [d.disabledValue] }];
    return [];
  },
  creationAttributes: () => ({}),
  userFilter: (classes) => `(objectClass=${classes.at(-1)!})`,
  checkAccountName: () => undefined,
  maintainsMemberReferences: false,
  nameChanges: (accountName) => [{ operation: 'replace', type: 'uid', values: [accountName] }],
  enableAfterPassword: false,
  passwordChange: (password, _encrypted, hash = 'ssha') => ({ operation: 'replace', type: 'userPassword', values: [hash === 'cleartext' ? password : sshaHash(password)] }),
};

/** userAccountControl flags (MS-ADTS 2.2.16). */
export const UAC = { ACCOUNTDISABLE: 0x2, PASSWD_NOTREQD: 0x20, NORMAL_ACCOUNT: 0x200 } as const;

/** objectGUID bytes → the usual string form (first three groups little-endian). */
export function guidToString(b: Buffer): string {
  if (b.length !== 16) throw new ConnectorError(ConnectorErrorCode.Rejected, `objectGUID has ${b.length} bytes, expected 16`);
  const h = (i: number) => b[i]!.toString(16).padStart(2, '0');
  const le = (idx: number[]) => idx.map(h).join('');
  return `${le([3, 2, 1, 0])}-${le([5, 4])}-${le([7, 6])}-${le([8, 9])}-${le([10, 11, 12, 13, 14, 15])}`;
}

export function guidToBytes(guid: string): Buffer {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i.exec(guid);
  if (!m) throw new ConnectorError(ConnectorErrorCode.Rejected, `not a GUID: ${guid}`);
  const bytes = (s: string) => s.match(/../g)!.map((x) => parseInt(x, 16));
  return Buffer.from([...bytes(m[1]!).reverse(), ...bytes(m[2]!).reverse(), ...bytes(m[3]!).reverse(), ...bytes(m[4]!), ...bytes(m[5]!)]);
}

/** Characters AD refuses in sAMAccountName, and the length Windows allows for user accounts (Samba allows more). */
const SAM_FORBIDDEN = '"/\\[]:;|=,+*?<>';
const SAM_MAX_LENGTH = 20;

const uacOf = (e: EntryView) => Number(e.get('userAccountControl')[0] ?? UAC.NORMAL_ACCOUNT);

export const ActiveDirectoryDialect: Dialect = {
  name: 'ad',
  refAttribute: 'objectGUID',
  binaryAttributes: ['objectGUID'],
  nameAttribute: 'sAMAccountName',
  defaultDnTemplate: 'cn={accountName}',
  userObjectClasses: ['top', 'person', 'organizationalPerson', 'user'],
  groupObjectClasses: ['group'],
  operationalAttributes: ['objectGUID', 'userAccountControl'],
  refOf: (e) => {
    const b = e.getBuffer('objectGUID');
    return b ? guidToString(b) : '';
  },
  refFilter: (ref) => `(objectGUID=${escapeFilterBytes(guidToBytes(ref))})`,
  // AD ignores the configured method: disabling is the ACCOUNTDISABLE bit.
  isEnabled: (e) => (uacOf(e) & UAC.ACCOUNTDISABLE) === 0,
  enableChanges: (e) => [{ operation: 'replace', type: 'userAccountControl', values: [String(uacOf(e) & ~UAC.ACCOUNTDISABLE)] }],
  disableChanges: (e) => [{ operation: 'replace', type: 'userAccountControl', values: [String(uacOf(e) | UAC.ACCOUNTDISABLE)] }],
  creationAttributes: (accountName, enabled, o) => ({
    sAMAccountName: [accountName],
    ...(o.upnSuffix ? { userPrincipalName: [`${accountName}@${o.upnSuffix}`] } : {}),
    userAccountControl: [String(UAC.NORMAL_ACCOUNT | (enabled ? 0 : UAC.ACCOUNTDISABLE))],
  }),
  // Computers are objectClass user too: only persons are accounts (reconciliation must never see a
  // computer as an orphan).
  userFilter: (classes) => `(&(objectCategory=person)(objectClass=${classes.at(-1)!}))`,
  checkAccountName: (name) => {
    const bad = [...name].find((ch) => SAM_FORBIDDEN.includes(ch) || ch.charCodeAt(0) < 0x20);
    // The rule and the offending character, never the name (results and logs must not carry it).
    if (bad !== undefined) throw new ConnectorError(ConnectorErrorCode.Rejected, `the account name (sAMAccountName) contains ${JSON.stringify(bad)}; Active Directory refuses " / \\ [ ] : ; | = , + * ? < > and control characters in it`);
    if ([...name].length > SAM_MAX_LENGTH) throw new ConnectorError(ConnectorErrorCode.Rejected, `the account name (sAMAccountName) has ${[...name].length} characters; Active Directory refuses more than ${SAM_MAX_LENGTH} for users`);
    if (name.endsWith('.')) throw new ConnectorError(ConnectorErrorCode.Rejected, `the account name (sAMAccountName) ends with a period, which Active Directory refuses`);
  },
  maintainsMemberReferences: true,
  // The userPrincipalName follows the name when the connector makes it (upnSuffix).
  nameChanges: (accountName, o) => [
    { operation: 'replace', type: 'sAMAccountName', values: [accountName] },
    ...(o.upnSuffix ? [{ operation: 'replace' as const, type: 'userPrincipalName', values: [`${accountName}@${o.upnSuffix}`] }] : []),
  ],
  enableAfterPassword: true,
  passwordChange: (password, encrypted) => {
    if (!encrypted) throw new ConnectorError(ConnectorErrorCode.Configuration, 'Active Directory accepts unicodePwd only over LDAPS or StartTLS');
    return { operation: 'replace', type: 'unicodePwd', values: [Buffer.from(`"${password}"`, 'utf16le')] };
  },
};

export function dialectOf(name: 'openldap' | 'ad'): Dialect {
  return name === 'ad' ? ActiveDirectoryDialect : OpenLdapDialect;
}
