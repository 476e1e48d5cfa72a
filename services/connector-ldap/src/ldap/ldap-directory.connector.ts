import {
  ConnectorError,
  ConnectorErrorCode,
  type AccountLocator,
  type AccountPatch,
  type AttributeValue,
  type Attributes,
  type DesiredAccount,
  type Page,
  type PlanOptions,
  type TargetAccount,
  type TargetConnector,
  type TargetGroup,
} from '@provisio/connector-kit';
import { Attribute, Change, type Client, type Entry } from 'ldapts';
import { randomUUID } from 'node:crypto';
import { plaintextLdap, type LdapTargetConfig } from '../config.js';
import { eq, escapeDnValue, formatDn, normalizeDn, parentDn, parseDn, sameDn } from './ldap-escape.js';
import { PostReadControl } from './post-read.js';
import { LdapSessionPool, fromLdapError, ldapCode } from './ldap-session.js';
import { MemberBatcher } from './member-batcher.js';
import { dialectOf, type Dialect, type EntryView, type ModOp } from './vendors.js';

/** Attributes the connector owns; commands may not set them. */
const RESERVED = new Set(['objectclass', 'entryuuid', 'objectguid', 'useraccountcontrol', 'pwdaccountlockedtime', 'uidnumber', 'gidnumber']);
const SECRET_ATTRIBUTES = new Set(['userpassword', 'unicodepwd', 'password']);

interface GroupRef {
  dn: string;
  name: string;
  memberAttribute: 'member' | 'uniqueMember' | 'memberUid';
}

/** True when `dn` lies below `base` (strictly: the base itself is no group). */
export function dnUnder(dn: string, base: string): boolean {
  try {
    const d = parseDn(dn);
    const b = parseDn(base);
    return d.length > b.length && sameDn(formatDn(d.slice(d.length - b.length)), base);
  } catch {
    return false;
  }
}

function dnKey(dn: string): string {
  try {
    return normalizeDn(dn);
  } catch {
    return dn.toLowerCase();
  }
}

function toValues(v: Exclude<AttributeValue, null>): string[] {
  if (Array.isArray(v)) return v;
  if (typeof v === 'boolean') return [v ? 'TRUE' : 'FALSE'];
  return [String(v)];
}

function view(e: Entry): EntryView {
  const lower = new Map<string, Entry[string]>();
  for (const [k, v] of Object.entries(e)) lower.set(k.toLowerCase(), v);
  return {
    dn: e.dn,
    get: (name) => {
      const v = lower.get(name.toLowerCase());
      if (v === undefined) return [];
      const list = Array.isArray(v) ? v : [v];
      return list.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));
    },
    getBuffer: (name) => {
      const v = lower.get(name.toLowerCase());
      const first = Array.isArray(v) ? v[0] : v;
      return Buffer.isBuffer(first) ? first : undefined;
    },
  };
}

/** The account as an entry view (for the dialect's enable/disable rules) without reading it again. */
function accountView(a: TargetAccount): EntryView {
  const lower = new Map<string, AttributeValue>();
  for (const [k, v] of Object.entries(a.attributes)) lower.set(k.toLowerCase(), v);
  return {
    dn: a.location ?? '',
    get: (name) => {
      const v = lower.get(name.toLowerCase());
      return v === undefined || v === null ? [] : toValues(v);
    },
    getBuffer: () => undefined,
  };
}

/** Account attributes after a successful modify: what was written replaces what was there (names case-insensitive). */
function withChanges(attributes: Attributes, ops: ModOp[]): Attributes {
  const out: Attributes = { ...attributes };
  for (const op of ops) {
    const existing = Object.keys(out).find((k) => k.toLowerCase() === op.type.toLowerCase());
    const current = existing === undefined ? [] : toValues(out[existing] ?? []);
    let next: string[];
    if (op.operation === 'replace') next = op.values.map(String);
    else if (op.operation === 'add') next = [...current, ...op.values.map(String)];
    else next = op.values.length === 0 ? [] : current.filter((v) => !op.values.map(String).includes(v));
    if (existing !== undefined) delete out[existing];
    if (next.length > 0) out[existing ?? op.type] = next.length === 1 ? next[0]! : next;
  }
  return out;
}

/**
 * LDAP directories (OpenLDAP, Active Directory) as targets: accounts from a DN template under
 * a configurable base, an ownership marker, attribute updates, rename and move, enable/disable
 * by the dialect's method, group memberships (groupOfNames / groupOfUniqueNames `member`,
 * posixGroup `memberUid`, AD `member`), optional posixAccount with allocated uid/gid numbers.
 */
export class LdapDirectoryConnector implements TargetConnector {
  readonly dialect: Dialect;
  private readonly pool: LdapSessionPool;
  /** Membership changes of concurrent commands, one modify per group (see MemberBatcher). */
  private readonly members: MemberBatcher;
  private readonly template: string;
  private readonly objectClasses: string[];
  private readonly groupCache = new Map<string, { ref: GroupRef; at: number }>();
  private readonly listings = new Map<string, { client: Client; pages: AsyncGenerator<{ searchEntries: Entry[] }>; index: Map<string, string[]> }>();

  constructor(
    private readonly cfg: LdapTargetConfig,
    private readonly allocateUidNumber?: (isTaken: (n: number) => Promise<boolean>) => Promise<number>,
  ) {
    const plaintext = plaintextLdap(cfg);
    if (plaintext) throw new ConnectorError(ConnectorErrorCode.Configuration, `target ${cfg.id}: ${plaintext}`);
    this.dialect = dialectOf(cfg.dialect);
    this.template = cfg.dnTemplate ?? this.dialect.defaultDnTemplate;
    this.objectClasses = cfg.objectClasses ?? this.dialect.userObjectClasses;
    this.pool = new LdapSessionPool(
      { url: cfg.url, startTls: cfg.startTls, tls: cfg.tls, bindDn: cfg.bindDn, bindPassword: cfg.bindPassword, timeoutMs: cfg.callTimeoutMs },
      cfg.connections,
    );
    if (this.dialect.name === 'openldap' && cfg.posix.enabled && !allocateUidNumber) throw new Error('posix accounts need a uid number allocator');
    this.members = new MemberBatcher(
      (group, type, operation, values) => this.modify(group, [{ operation, type, values }], operation === 'add' ? 'add group member' : 'remove group member'),
      cfg.groupEntries?.maxValuesPerModify ?? 100,
      (e) => ldapCode(e) !== undefined,
    );
  }

  /** How the kit compares this target: LDAP names, attributes and DNs are case-insensitive. */
  planOptions(): Partial<PlanOptions> {
    return {
      adoptUnowned: this.cfg.adoptExisting,
      groupsCaseInsensitive: true,
      caseInsensitiveAttributeNames: true,
      // A password is an initial password: set at creation, never read back, never reset.
      writeOnlyAttributes: (name) => SECRET_ATTRIBUTES.has(name.toLowerCase()),
      locationOf: (d, enabled) => this.dnFor(d, enabled),
      sameLocation: sameDn,
    };
  }

  // ---- naming ------------------------------------------------------------------------------

  /** The DN the desired account should have (under the disabled base for the move method). */
  dnFor(d: DesiredAccount, enabled = true): string {
    const rendered = this.template.replace(/\{([^}]+)\}/g, (_m, key: string) => {
      let value: string | undefined;
      if (key === 'accountName') value = d.accountName;
      else if (key === 'personId') value = d.personId;
      else if (key.startsWith('attr.')) {
        const v = d.attributes[key.slice(5)];
        value = v === null || v === undefined ? undefined : toValues(v)[0];
      }
      if (value === undefined || value === '') throw new ConnectorError(ConnectorErrorCode.Rejected, `the DN template of target ${this.cfg.id} needs ${key}, which the command does not set`);
      return escapeDnValue(value);
    });
    const base = !enabled && this.cfg.disable.method === 'move' ? this.cfg.disable.disabledBase : this.cfg.usersBase;
    if (!enabled && this.cfg.disable.method === 'move') return `${rendered.split(/(?<!\\),/)[0]},${base}`;
    return `${rendered},${base}`;
  }

  private bases(): string[] {
    return this.cfg.disable.method === 'move' ? [this.cfg.usersBase, this.cfg.disable.disabledBase] : [this.cfg.usersBase];
  }

  private ownerValue(personId: string): string {
    return `${this.cfg.owner.prefix}${personId}`;
  }

  private ownerOf(v: EntryView): string | null {
    const marked = v.get(this.cfg.owner.attribute).find((x) => x.startsWith(this.cfg.owner.prefix));
    return marked === undefined ? null : marked.slice(this.cfg.owner.prefix.length);
  }

  private isEnabled(v: EntryView): boolean {
    if (this.dialect.name === 'openldap' && this.cfg.disable.method === 'move') return !sameDn(parentDn(v.dn), this.cfg.disable.disabledBase);
    return this.dialect.isEnabled(v, this.cfg.disable);
  }

  private userFilter(): string {
    return this.dialect.userFilter(this.objectClasses);
  }

  private toAccount(e: Entry, groups: string[]): TargetAccount {
    const v = view(e);
    const attributes: Attributes = {};
    for (const [k, raw] of Object.entries(e)) {
      const lower = k.toLowerCase();
      if (k === 'dn' || lower === 'objectclass' || SECRET_ATTRIBUTES.has(lower) || lower === this.cfg.owner.attribute.toLowerCase() || this.dialect.binaryAttributes.some((b) => b.toLowerCase() === lower)) continue;
      const values = (Array.isArray(raw) ? raw : [raw]).map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));
      attributes[k] = values.length === 1 ? values[0]! : values;
    }
    const name = v.get(this.dialect.nameAttribute)[0] ?? parseDn(e.dn)[0]?.[0]?.value ?? '';
    return { ref: this.dialect.refOf(v), name, owner: this.ownerOf(v), enabled: this.isEnabled(v), attributes, groups, location: e.dn };
  }

  private attributesToRead(): string[] {
    return ['*', ...this.dialect.operationalAttributes];
  }

  // ---- reading -----------------------------------------------------------------------------

  /** The one entry the filter matches in the account bases; `by` names the look-up in errors (the filter holds personal values). */
  private async findOne(filter: string, by: string): Promise<Entry | undefined> {
    for (const base of this.bases()) {
      const found = await this.pool.use('search account', async (c) => {
        try {
          return (await c.search(base, { scope: 'sub', filter, attributes: this.attributesToRead(), explicitBufferAttributes: this.dialect.binaryAttributes, sizeLimit: 2 })).searchEntries;
        } catch (e) {
          if (ldapCode(e) === 32) return [];
          throw e;
        }
      });
      if (found.length > 1) throw new ConnectorError(ConnectorErrorCode.Rejected, `more than one entry matches the look-up by ${by} under ${base}`);
      if (found[0]) return found[0];
    }
    return undefined;
  }

  private async readDn(dn: string): Promise<Entry | undefined> {
    return this.pool.use('read entry', async (c) => {
      try {
        return (await c.search(dn, { scope: 'base', attributes: this.attributesToRead(), explicitBufferAttributes: this.dialect.binaryAttributes })).searchEntries[0];
      } catch (e) {
        if (ldapCode(e) === 32) return undefined;
        throw e;
      }
    });
  }

  async ping(): Promise<void> {
    await this.pool.use('ping', (c) => c.search(this.cfg.usersBase, { scope: 'base', attributes: ['1.1'] }));
  }

  async readAccount(l: AccountLocator): Promise<TargetAccount | null> {
    let entry: Entry | undefined;
    if (l.accountRef) {
      const byRef = await this.findOne(this.dialect.refFilter(l.accountRef), this.dialect.refAttribute);
      if (byRef && this.ownerOf(view(byRef)) === l.personId) entry = byRef;
    }
    entry ??= await this.findOne(`(&${this.userFilter()}${eq(this.cfg.owner.attribute, this.ownerValue(l.personId))})`, `ownership marker (${this.cfg.owner.attribute})`);
    entry ??= await this.findOne(`(&${this.userFilter()}${eq(this.dialect.nameAttribute, l.accountName)})`, `account name (${this.dialect.nameAttribute})`);
    if (!entry) return null;
    return this.toAccount(entry, await this.membershipsOf(entry.dn, view(entry).get(this.dialect.nameAttribute)[0] ?? l.accountName));
  }

  /**
   * A batch's accounts in a few searches (by ref, owner marker or name), chunked to keep filters
   * small. Found accounts come back complete (their memberships read per account), so the kit's
   * converge does not read them again: one read of each account per command.
   */
  async readAccounts(locators: AccountLocator[]): Promise<Map<string, TargetAccount | null>> {
    const out = new Map<string, TargetAccount | null>();
    for (let i = 0; i < locators.length; i += 100) {
      const chunk = locators.slice(i, i + 100);
      const terms = chunk.map((l) => {
        let byRef = '';
        try {
          byRef = l.accountRef ? this.dialect.refFilter(l.accountRef) : '';
        } catch {
          byRef = '';
        }
        return `${byRef}${eq(this.cfg.owner.attribute, this.ownerValue(l.personId))}${eq(this.dialect.nameAttribute, l.accountName)}`;
      });
      const filter = `(&${this.userFilter()}(|${terms.join('')}))`;
      const entries: Entry[] = [];
      for (const base of this.bases()) {
        entries.push(
          ...(await this.pool.use('search accounts', async (c) => {
            try {
              return (await c.search(base, { scope: 'sub', filter, attributes: this.attributesToRead(), explicitBufferAttributes: this.dialect.binaryAttributes })).searchEntries;
            } catch (e) {
              if (ldapCode(e) === 32) return [];
              throw e;
            }
          })),
        );
      }
      const byRef = new Map<string, Entry>();
      const byOwner = new Map<string, Entry[]>();
      const byName = new Map<string, Entry[]>();
      for (const e of entries) {
        const v = view(e);
        const ref = this.dialect.refOf(v);
        if (ref) byRef.set(ref.toLowerCase(), e);
        const owner = this.ownerOf(v);
        if (owner !== null) byOwner.set(owner, [...(byOwner.get(owner) ?? []), e]);
        for (const n of v.get(this.dialect.nameAttribute)) byName.set(n.toLowerCase(), [...(byName.get(n.toLowerCase()) ?? []), e]);
      }
      // The same rules as readAccount: the known ref when it is still the person's, then the owner marker, then the name.
      const pick = (l: AccountLocator): Entry | undefined | 'ambiguous' => {
        const ref = l.accountRef ? byRef.get(l.accountRef.toLowerCase()) : undefined;
        if (ref && this.ownerOf(view(ref)) === l.personId) return ref;
        for (const list of [byOwner.get(l.personId), byName.get(l.accountName.toLowerCase())]) {
          if (!list) continue;
          if (new Set(list.map((e) => dnKey(e.dn))).size > 1) return 'ambiguous';
          return list[0];
        }
        return undefined;
      };
      await Promise.all(
        chunk.map(async (l) => {
          const e = pick(l);
          // More than one candidate: readAccount reports it (as a rejection) when the command runs.
          if (e === 'ambiguous') return;
          out.set(l.personId, e ? this.toAccount(e, await this.membershipsOf(e.dn, view(e).get(this.dialect.nameAttribute)[0] ?? l.accountName)) : null);
        }),
      );
    }
    return out;
  }

  // ---- writing -----------------------------------------------------------------------------

  private checkAttributes(attributes: Attributes): void {
    for (const name of Object.keys(attributes)) {
      const lower = name.toLowerCase();
      if (RESERVED.has(lower) || lower === this.cfg.owner.attribute.toLowerCase()) {
        throw new ConnectorError(ConnectorErrorCode.Rejected, `attribute ${name} is managed by the connector on target ${this.cfg.id} and cannot be set by a command`);
      }
    }
  }

  private async modify(dn: string, ops: ModOp[], what: string): Promise<void> {
    if (ops.length === 0) return;
    const changes = ops.map((o) => new Change({ operation: o.operation, modification: new Attribute({ type: o.type, values: o.values }) }));
    await this.pool.use(what, (c) => c.modify(dn, changes));
  }

  /** Creates the organizational units between the base and `dn`'s parent that do not exist yet. */
  private async ensureContainers(dn: string): Promise<void> {
    const rdns = parseDn(dn);
    // Top-down: every missing organizational unit on the way (the base itself included).
    for (let depth = rdns.length - 1; depth >= 1; depth--) {
      const container = rdns.slice(depth);
      const first = container[0]!;
      if (first.length !== 1 || first[0]!.type.toLowerCase() !== 'ou') continue;
      const cdn = formatDn(container);
      if (await this.readDn(cdn)) continue;
      await this.pool.use('create container', async (c) => {
        try {
          await c.add(cdn, { objectClass: ['top', 'organizationalUnit'], ou: first[0]!.value });
        } catch (e) {
          if (ldapCode(e) !== 68) throw e;
        }
      });
    }
  }

  /**
   * Runs an add or modifyDN of `dn`; when it fails because a container on the way is missing,
   * creates the containers and runs it again. OpenLDAP and Windows AD say noSuchObject (32);
   * Samba says "other" (80, "parent does not exist") for a move, so the parent is looked at
   * instead of trusting one result code.
   */
  private async withContainers<T>(dn: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const code = ldapCode(e);
      if (code === undefined || !this.cfg.createContainers) throw e;
      if (code !== 32 && (await this.readDn(parentDn(dn)))) throw e;
      await this.ensureContainers(dn);
      return fn();
    }
  }

  async createAccount(d: DesiredAccount): Promise<TargetAccount> {
    this.checkAttributes(d.attributes);
    this.dialect.checkAccountName(d.accountName);
    const enabled = d.state !== 'DISABLED';
    const dn = this.dnFor(d, enabled || this.cfg.disable.method !== 'move' ? true : false);
    const attrs: Record<string, string[]> = { objectClass: [...this.objectClasses] };
    const put = (name: string, values: string[]) => {
      const existing = Object.keys(attrs).find((k) => k.toLowerCase() === name.toLowerCase());
      attrs[existing ?? name] = values;
    };
    if (this.dialect.name === 'openldap') put(this.dialect.nameAttribute, [d.accountName]);
    if (this.objectClasses.some((o) => ['person', 'inetorgperson', 'user'].includes(o.toLowerCase()))) {
      put('cn', [d.accountName]);
      if (this.dialect.name === 'openldap') put('sn', [d.accountName]);
    }
    // The password change is made (and refused, e.g. AD's unicodePwd without TLS) before anything is sent.
    let password: ModOp | undefined;
    for (const [k, v] of Object.entries(d.attributes)) {
      if (k.toLowerCase() === 'password' && v !== null && !(Array.isArray(v) && v.length === 0)) password = this.dialect.passwordChange(toValues(v)[0]!, this.pool.encrypted, this.cfg.passwordHash);
    }
    // AD: an account that gets a password is created disabled and enabled once the password is
    // set (Windows refuses an enabled account whose password does not meet the policy yet).
    const enableAfterPassword = enabled && password !== undefined && this.dialect.enableAfterPassword;
    for (const [k, v] of Object.entries(this.dialect.creationAttributes(d.accountName, enabled && !enableAfterPassword, { upnSuffix: this.cfg.upnSuffix }))) put(k, v);
    // Template attributes (e.g. cn={attr.cn}) must hold the RDN value.
    for (const rdn of parseDn(dn)[0]!) put(rdn.type, [rdn.value]);
    for (const [k, v] of Object.entries(d.attributes)) {
      if (v === null || (Array.isArray(v) && v.length === 0)) continue;
      if (k.toLowerCase() !== 'password') put(k, toValues(v));
    }
    put(this.cfg.owner.attribute, [this.ownerValue(d.personId)]);
    if (this.cfg.posix.enabled) {
      attrs['objectClass']!.push('posixAccount');
      const uidNumber = await this.allocateUidNumber!((n) => this.posixNumberTaken(n));
      put('uidNumber', [String(uidNumber)]);
      put('gidNumber', [String(this.cfg.posix.gidNumber === 'uid' ? uidNumber : this.cfg.posix.gidNumber)]);
      const home = this.cfg.posix.homeDirectory.replace('{accountName}', d.accountName).replace('{uidNumber}', String(uidNumber));
      // homeDirectory is IA5String: ASCII only.
      if (!/^[\x20-\x7e]+$/.test(home)) {
        throw new ConnectorError(ConnectorErrorCode.Rejected, `homeDirectory for the account of person ${d.personId} would not be ASCII (IA5String); use {uidNumber} in posix.homeDirectory for such names`);
      }
      put('homeDirectory', [home]);
      put('loginShell', [this.cfg.posix.loginShell]);
    }
    // The new entry comes back in the add's own response (Post-Read control, RFC 4527): its ref
    // (entryUUID) is the directory's. A server that ignores the control costs one read instead,
    // and so does an entry that gets a password after the add.
    let postRead: PostReadControl | undefined;
    await this.withContainers(dn, () =>
      this.pool.use('add account', (c) => {
        postRead = password === undefined ? new PostReadControl(this.attributesToRead(), this.dialect.binaryAttributes) : undefined;
        return c.add(dn, attrs, postRead ? [postRead] : []);
      }),
    );
    if (password !== undefined) await this.modify(dn, [password], 'set password');
    // Only an answer that carries the ref counts (a server may return what its ACLs let the bind read).
    const returned = postRead?.entry && this.dialect.refOf(view(postRead.entry)) !== '' ? postRead.entry : undefined;
    const entry = returned ?? (await this.readDn(dn));
    if (!entry) throw new ConnectorError(ConnectorErrorCode.Unavailable, 'entry vanished right after it was created');
    const account = this.toAccount(entry, []);
    if (enableAfterPassword && !account.enabled) {
      const ops = this.dialect.enableChanges(view(entry), this.cfg.disable);
      await this.modify(dn, ops, 'enable account');
      return this.afterModify(account, ops);
    }
    if (!enabled && this.cfg.disable.method !== 'move' && account.enabled) {
      const ops = this.dialect.disableChanges(view(entry), this.cfg.disable);
      await this.modify(dn, ops, 'disable account');
      return this.afterModify(account, ops);
    }
    return account;
  }

  /**
   * Whether a uid number is in use. With `gidNumber: uid` the number is also the new account's
   * primary group, so it must not be any account's gidNumber either, nor the gidNumber of a
   * posixGroup anywhere under `posix.gidSearchBases` (default: the directory's naming contexts,
   * i.e. the whole suffix) — else the account would get that group as its primary group.
   */
  private async posixNumberTaken(n: number): Promise<boolean> {
    const gidIsUid = this.cfg.posix.gidNumber === 'uid';
    if ((await this.findOne(gidIsUid ? `(|(uidNumber=${n})(gidNumber=${n}))` : `(uidNumber=${n})`, gidIsUid ? 'uidNumber or gidNumber' : 'uidNumber')) !== undefined) return true;
    if (!gidIsUid) return false;
    for (const base of await this.gidSearchBases()) {
      const found = await this.pool.use('search posix groups', async (c) => {
        try {
          return (await c.search(base, { scope: 'sub', filter: `(&(objectClass=posixGroup)(gidNumber=${n}))`, attributes: ['1.1'], sizeLimit: 1 })).searchEntries.length > 0;
        } catch (e) {
          const code = ldapCode(e);
          if (code === 32) return false;
          if (code === 4) return true; // sizeLimitExceeded: more than one
          throw e;
        }
      });
      if (found) return true;
    }
    return false;
  }

  private gidBases: string[] | undefined;

  private async gidSearchBases(): Promise<string[]> {
    if (this.cfg.posix.gidSearchBases) return this.cfg.posix.gidSearchBases;
    if (this.gidBases) return this.gidBases;
    const contexts = await this.pool.use('read root DSE', async (c) => (await c.search('', { scope: 'base', filter: '(objectClass=*)', attributes: ['namingContexts'] })).searchEntries[0]);
    const named = contexts ? view(contexts).get('namingContexts').filter((n) => n !== '') : [];
    // Only the naming contexts that hold this target's entries (slapd lists cn=config etc. only to those who may read them).
    const relevant = named.filter((n) => sameDn(n, this.cfg.usersBase) || dnUnder(this.cfg.usersBase, n));
    this.gidBases = relevant.length ? relevant : [this.cfg.groupEntries?.base ?? this.cfg.usersBase];
    return this.gidBases;
  }

  /** The account after a successful modify, from what was written (no read-back). */
  private afterModify(account: TargetAccount, ops: ModOp[], changes: { dn?: string; name?: string; owner?: string } = {}): TargetAccount {
    const dn = changes.dn ?? account.location ?? '';
    let attributes = account.attributes;
    if (changes.dn !== undefined && account.location !== undefined && !sameDn(changes.dn, account.location)) {
      // modifyDN replaced the old RDN values with the new ones (deleteOldRdn).
      const oldRdn = parseDn(account.location)[0] ?? [];
      const newRdn = parseDn(changes.dn)[0] ?? [];
      attributes = withChanges(attributes, [
        ...oldRdn.filter((a) => !newRdn.some((b) => b.type.toLowerCase() === a.type.toLowerCase())).map((a): ModOp => ({ operation: 'delete', type: a.type, values: [a.value] })),
        ...newRdn.map((a): ModOp => ({ operation: 'replace', type: a.type, values: [a.value] })),
      ]);
    }
    const visible = ops.filter((o) => {
      const lower = o.type.toLowerCase();
      return !SECRET_ATTRIBUTES.has(lower) && lower !== 'objectclass' && lower !== this.cfg.owner.attribute.toLowerCase() && !this.dialect.binaryAttributes.some((b) => b.toLowerCase() === lower);
    });
    attributes = withChanges(attributes, visible);
    const next: TargetAccount = { ...account, attributes, location: dn, name: changes.name ?? account.name, owner: changes.owner ?? account.owner };
    return { ...next, enabled: this.isEnabled(accountView(next)) };
  }

  async updateAccount(account: TargetAccount, patch: AccountPatch, d: DesiredAccount): Promise<TargetAccount> {
    let dn = account.location ?? this.dnFor(d);
    let name = account.name;
    const written: ModOp[] = [];
    if (patch.attributes) this.checkAttributes(patch.attributes);
    if (patch.name !== undefined) this.dialect.checkAccountName(patch.name);
    // Refused (AD's unicodePwd without TLS) before the rename or any other change is sent.
    const passwordKey = Object.keys(patch.attributes ?? {}).find((k) => k.toLowerCase() === 'password');
    const passwordValue = passwordKey === undefined ? null : patch.attributes![passwordKey]!;
    const passwordOp = passwordValue === null || (Array.isArray(passwordValue) && passwordValue.length === 0) ? undefined : this.dialect.passwordChange(toValues(passwordValue)[0]!, this.pool.encrypted, this.cfg.passwordHash);
    if (patch.name !== undefined) {
      const target = this.dnFor(d, account.enabled || this.cfg.disable.method !== 'move');
      if (!sameDn(dn, target)) {
        await this.withContainers(target, () => this.pool.use('rename account', (c) => c.modifyDN(dn, target)));
        await this.replaceMemberReferences(dn, target, name, patch.name);
        dn = target;
      }
      if (patch.name !== name) {
        if (this.dialect.name === 'ad' || !parseDn(dn)[0]!.some((a) => a.type.toLowerCase() === this.dialect.nameAttribute.toLowerCase())) {
          const ops = this.dialect.nameChanges(patch.name, { upnSuffix: this.cfg.upnSuffix });
          await this.modify(dn, ops, 'rename account');
          written.push(...ops);
        }
        if (this.dialect.name === 'openldap') await this.replaceMemberReferences(dn, dn, name, patch.name);
        name = patch.name;
      }
    }
    const ops: ModOp[] = [];
    for (const [k, v] of Object.entries(patch.attributes ?? {})) {
      if (k.toLowerCase() === 'password') {
        if (passwordOp) ops.push(passwordOp);
        continue;
      }
      const rdnAttr = parseDn(dn)[0]!.some((a) => a.type.toLowerCase() === k.toLowerCase());
      if (rdnAttr) continue; // the RDN value changed with the rename
      ops.push(v === null || (Array.isArray(v) && v.length === 0) ? { operation: 'replace', type: k, values: [] } : { operation: 'replace', type: k, values: toValues(v) });
    }
    if (patch.owner !== undefined) ops.push({ operation: 'replace', type: this.cfg.owner.attribute, values: [this.ownerValue(patch.owner)] });
    await this.modify(dn, ops, 'update account');
    return this.afterModify(account, [...written, ...ops], { dn, name, ...(patch.owner !== undefined ? { owner: patch.owner } : {}) });
  }

  /** After a rename or move, group entries still name the old DN (or uid): point them at the new one. */
  private async replaceMemberReferences(oldDn: string, newDn: string, oldName: string, newName: string | undefined): Promise<void> {
    if (!this.cfg.groupEntries || this.dialect.maintainsMemberReferences) return;
    const refs = await this.groupsReferencing(oldDn, oldName);
    for (const g of refs) {
      const from = g.memberAttribute === 'memberUid' ? oldName : oldDn;
      const to = g.memberAttribute === 'memberUid' ? (newName ?? oldName) : newDn;
      if (from === to) continue;
      // Add first: groupOfNames must never be empty in between.
      await this.modify(g.dn, [{ operation: 'add', type: g.memberAttribute, values: [to] }], 'update group member').catch((e: unknown) => {
        if (ldapCode(e) !== 20) throw e;
      });
      await this.modify(g.dn, [{ operation: 'delete', type: g.memberAttribute, values: [from] }], 'update group member').catch((e: unknown) => {
        if (ldapCode(e) !== 16) throw e;
      });
    }
  }

  async enableAccount(account: TargetAccount, d: DesiredAccount): Promise<void> {
    await this.setEnabled(account, d, true);
  }

  async disableAccount(account: TargetAccount, d: DesiredAccount): Promise<void> {
    await this.setEnabled(account, d, false);
  }

  private async setEnabled(account: TargetAccount, d: DesiredAccount, enabled: boolean): Promise<void> {
    const dn = account.location!;
    if (this.dialect.name === 'openldap' && this.cfg.disable.method === 'move') {
      const rdn = formatDn(parseDn(dn).slice(0, 1));
      const target = enabled ? this.dnFor({ ...d, accountName: account.name }, true) : `${rdn},${this.cfg.disable.disabledBase}`;
      if (!sameDn(dn, target)) {
        await this.withContainers(target, () => this.pool.use(enabled ? 'enable account' : 'disable account', (c) => c.modifyDN(dn, target)));
        await this.replaceMemberReferences(dn, target, account.name, undefined);
      }
      return;
    }
    // The account as read for this command (AD keeps the other userAccountControl flags from it).
    const v = accountView(account);
    const ops = enabled ? this.dialect.enableChanges(v, this.cfg.disable) : this.dialect.disableChanges(v, this.cfg.disable);
    try {
      await this.modify(dn, ops, enabled ? 'enable account' : 'disable account');
    } catch (e) {
      // Enabling what is already enabled: the attribute to delete is not there.
      if (!(enabled && ldapCode(e) === 16)) throw e;
    }
  }

  async deleteAccount(account: TargetAccount): Promise<void> {
    const dn = account.location!;
    if (this.cfg.groupEntries) {
      for (const g of await this.groupsReferencing(dn, account.name)) await this.removeFrom(g, dn, account.name);
    }
    await this.pool.use('delete account', async (c) => {
      try {
        await c.del(dn);
      } catch (e) {
        if (ldapCode(e) !== 32) throw e;
      }
    });
  }

  // ---- groups ------------------------------------------------------------------------------

  private groupsBase(): string {
    if (!this.cfg.groupEntries) throw new ConnectorError(ConnectorErrorCode.Configuration, `target ${this.cfg.id} has no group entries configured (groupEntries.base)`);
    return this.cfg.groupEntries.base;
  }

  private groupRefOf(e: Entry): GroupRef {
    const v = view(e);
    const classes = v.get('objectClass').map((c) => c.toLowerCase());
    const memberAttribute = classes.includes('groupofuniquenames') ? 'uniqueMember' : classes.includes('posixgroup') && !classes.includes('groupofnames') ? 'memberUid' : 'member';
    return { dn: e.dn, name: this.cfg.groupEntries?.naming === 'dn' ? e.dn : (v.get('cn')[0] ?? e.dn), memberAttribute };
  }

  private groupClassFilter(): string {
    return `(|${this.dialect.groupObjectClasses.map((c) => `(objectClass=${c})`).join('')})`;
  }

  private async resolveGroup(name: string): Promise<GroupRef> {
    const key = name.toLowerCase();
    const cached = this.groupCache.get(key);
    if (cached && Date.now() - cached.at < 60_000) return cached.ref;
    const base = this.groupsBase();
    // A group named by DN must lie under the configured group base: a command never reaches
    // groups elsewhere in the directory (CN=Domain Admins,CN=Users,...).
    if (name.includes('=') && !dnUnder(name, base)) {
      throw new ConnectorError(ConnectorErrorCode.InvalidCommand, `group ${name} refused on target ${this.cfg.id}: not under the group base groupEntries.base (${base})`);
    }
    const entry = name.includes('=')
      ? await this.pool.use('read group', async (c) => {
          try {
            return (await c.search(name, { scope: 'base', filter: this.groupClassFilter(), attributes: ['cn', 'objectClass'] })).searchEntries[0];
          } catch (e) {
            if (ldapCode(e) === 32) return undefined;
            throw e;
          }
        })
      : await this.pool.use('find group', async (c) => (await c.search(base, { scope: 'sub', filter: `(&${this.groupClassFilter()}${eq('cn', name)})`, attributes: ['cn', 'objectClass'], sizeLimit: 2 })).searchEntries[0]);
    if (!entry) throw new ConnectorError(ConnectorErrorCode.GroupNotFound, `group ${name} does not exist on target ${this.cfg.id}`);
    const ref = this.groupRefOf(entry);
    this.groupCache.set(key, { ref, at: Date.now() });
    return ref;
  }

  private async groupsReferencing(dn: string, name: string): Promise<GroupRef[]> {
    if (!this.cfg.groupEntries) return [];
    const filter = `(&${this.groupClassFilter()}(|${eq('member', dn)}${eq('uniqueMember', dn)}${this.dialect.name === 'openldap' ? eq('memberUid', name) : ''}))`;
    const entries = await this.pool.use('search groups', async (c) => {
      try {
        return (await c.search(this.cfg.groupEntries!.base, { scope: 'sub', filter, attributes: ['cn', 'objectClass'] })).searchEntries;
      } catch (e) {
        if (ldapCode(e) === 32) return [];
        throw e;
      }
    });
    return entries.map((e) => this.groupRefOf(e));
  }

  private async membershipsOf(dn: string, name: string): Promise<string[]> {
    return (await this.groupsReferencing(dn, name)).map((g) => g.name);
  }

  async addGroupMembership(account: TargetAccount, group: string): Promise<void> {
    // Additions only to managed groups (removals are limited by the kit's plan the same way).
    const pattern = this.cfg.groups.managedPattern;
    if (pattern !== undefined && !new RegExp(pattern).test(group)) {
      throw new ConnectorError(ConnectorErrorCode.InvalidCommand, `group ${group} refused on target ${this.cfg.id}: not a managed group (groups.managedPattern ${pattern})`);
    }
    const g = await this.resolveGroup(group);
    const value = g.memberAttribute === 'memberUid' ? account.name : account.location!;
    try {
      await this.members.submit({ group: g.dn, attribute: g.memberAttribute, operation: 'add', value });
    } catch (e) {
      // Already a member: attributeOrValueExists (20); AD says entryAlreadyExists (68) for a linked value.
      const code = ldapCode(e);
      if (code !== 20 && !(code === 68 && this.dialect.name === 'ad')) throw e;
    }
    const placeholder = this.cfg.groupEntries?.placeholderMember;
    if (placeholder && g.memberAttribute !== 'memberUid') {
      // Through the batcher: the adds of a burst remove the placeholder with one modify between them.
      await this.members.submit({ group: g.dn, attribute: g.memberAttribute, operation: 'delete', value: placeholder, lane: 'placeholder' }).catch((e: unknown) => {
        // Not there (the usual case once the group has real members) is fine; the directory gone is not.
        if (ldapCode(e) === undefined) throw e;
      });
    }
  }

  async removeGroupMembership(account: TargetAccount, group: string): Promise<void> {
    await this.removeFrom(await this.resolveGroup(group), account.location!, account.name);
  }

  private async removeFrom(g: GroupRef, dn: string, name: string): Promise<void> {
    const value = g.memberAttribute === 'memberUid' ? name : dn;
    try {
      await this.members.submit({ group: g.dn, attribute: g.memberAttribute, operation: 'delete', value });
    } catch (e) {
      const code = ldapCode(e);
      if (code === 16) return; // not a member
      // AD refuses removing a value that is not there with unwillingToPerform (53): Windows says
      // ERROR_MEMBER_NOT_IN_GROUP, Samba "already deleted" for a link it removed before. Only the
      // group itself tells whether that was the reason.
      if (code === 53 && this.dialect.name === 'ad' && !(await this.hasMember(g, value))) return;
      const placeholder = this.cfg.groupEntries?.placeholderMember;
      if (code === 65 && placeholder) {
        // The last member of a groupOfNames: the placeholder keeps the entry valid. One atomic
        // modify that adds it and removes this member, never a replace: a member added
        // meanwhile (another command's join) stays.
        try {
          await this.modify(
            g.dn,
            [
              { operation: 'add', type: g.memberAttribute, values: [placeholder] },
              { operation: 'delete', type: g.memberAttribute, values: [value] },
            ],
            'remove last group member',
          );
        } catch (again) {
          const next = ldapCode(again);
          if (next === 16) return; // removed meanwhile
          if (next !== 20) throw again;
          // The placeholder is there already (put back meanwhile): a plain delete now leaves a member.
          await this.members.submit({ group: g.dn, attribute: g.memberAttribute, operation: 'delete', value }).catch((last: unknown) => {
            if (ldapCode(last) !== 16) throw last;
          });
        }
        return;
      }
      if (code === 65) throw new ConnectorError(ConnectorErrorCode.Rejected, `cannot remove the last member of ${g.name} (groupOfNames needs one); configure groups.placeholderMember`, { cause: e });
      throw e;
    }
  }

  private async hasMember(g: GroupRef, value: string): Promise<boolean> {
    return this.pool.use('read group', async (c) => (await c.search(g.dn, { scope: 'base', filter: eq(g.memberAttribute, value), attributes: ['1.1'] })).searchEntries.length > 0);
  }

  async listGroups(cursor: string | null, pageSize: number): Promise<Page<TargetGroup>> {
    // Paged (RFC 2696) like the account listing: AD answers at most MaxPageSize (1,000) entries
    // to a search without it, slapd its size limit.
    const base = this.groupsBase();
    const entries = await this.pool.use('list groups', async (c) => {
      const out: Entry[] = [];
      for await (const page of c.searchPaginated(base, { scope: 'sub', filter: this.groupClassFilter(), attributes: ['cn', 'objectClass', this.dialect.refAttribute], explicitBufferAttributes: this.dialect.binaryAttributes, paged: { pageSize: Math.min(500, Math.max(1, pageSize)) } })) {
        out.push(...page.searchEntries);
      }
      return out;
    });
    const all = entries.map((e) => ({ name: this.groupRefOf(e).name, ref: this.dialect.refOf(view(e)) || e.dn })).sort((a, b) => a.name.localeCompare(b.name));
    const start = cursor === null ? 0 : all.findIndex((g) => g.name > cursor);
    const items = start < 0 ? [] : all.slice(start, start + pageSize);
    return { items, next: start >= 0 && start + pageSize < all.length ? items.at(-1)!.name : null };
  }

  // ---- listing (reconciliation) ---------------------------------------------------------------

  async listAccounts(cursor: string | null, pageSize: number): Promise<Page<TargetAccount>> {
    let listing = cursor === null ? undefined : this.listings.get(cursor);
    let id = cursor;
    if (cursor !== null && !listing) throw new ConnectorError(ConnectorErrorCode.Rejected, 'the listing was interrupted (its connection is gone); start again');
    if (!listing) {
      const client = await this.pool.dedicated();
      try {
        const index = await this.membershipIndex(client);
        const bases = this.bases();
        const pages = (async function* (self: LdapDirectoryConnector) {
          for (const base of bases) {
            try {
              yield* client.searchPaginated(base, { scope: 'sub', filter: self.userFilter(), attributes: self.attributesToRead(), explicitBufferAttributes: self.dialect.binaryAttributes, paged: { pageSize } });
            } catch (e) {
              if (ldapCode(e) !== 32) throw e;
            }
          }
        })(this);
        listing = { client, pages, index };
        id = randomUUID();
        this.listings.set(id, listing);
      } catch (e) {
        await client.unbind().catch(() => undefined);
        throw fromLdapError(e, 'list accounts');
      }
    }
    try {
      const next = await listing.pages.next();
      if (next.done) {
        this.listings.delete(id!);
        await listing.client.unbind().catch(() => undefined);
        return { items: [], next: null };
      }
      const idx = listing.index;
      const items = next.value.searchEntries.map((e) => {
        const name = view(e).get(this.dialect.nameAttribute)[0] ?? '';
        return this.toAccount(e, [...new Set([...(idx.get(dnKey(e.dn)) ?? []), ...(idx.get(`uid:${name.toLowerCase()}`) ?? [])])]);
      });
      return { items, next: id };
    } catch (e) {
      this.listings.delete(id!);
      await listing.client.unbind().catch(() => undefined);
      throw fromLdapError(e, 'list accounts');
    }
  }

  /** member DN (or uid:name) → group names, read once per listing. */
  private async membershipIndex(client: Client): Promise<Map<string, string[]>> {
    const index = new Map<string, string[]>();
    if (!this.cfg.groupEntries) return index;
    for await (const page of client.searchPaginated(this.cfg.groupEntries.base, { scope: 'sub', filter: this.groupClassFilter(), attributes: ['cn', 'objectClass', 'member', 'uniqueMember', 'memberUid'], paged: { pageSize: 500 } })) {
      for (const e of page.searchEntries) {
        const g = this.groupRefOf(e);
        const v = view(e);
        const keys = g.memberAttribute === 'memberUid' ? v.get('memberUid').map((u) => `uid:${u.toLowerCase()}`) : v.get(g.memberAttribute).map(dnKey);
        for (const k of keys) index.set(k, [...(index.get(k) ?? []), g.name]);
      }
    }
    return index;
  }

  async close(): Promise<void> {
    for (const l of this.listings.values()) await l.client.unbind().catch(() => undefined);
    this.listings.clear();
    await this.pool.close();
  }
}
