import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConnectorError, converge } from '@provisio/connector-kit';
import type { RunningSlapd } from '@provisio/devstack';
import { Client } from 'ldapts';
import { LdapDirectoryConnector } from '../src/ldap/ldap-directory.connector.js';
import { BASE, GROUPS, NOBODY, PEOPLE, desiredAccount as desired, ldapRuntime, ldapTarget, startDirectory, stopDirectory } from './ldap-test-kit.js';

const READER = `cn=reader,${BASE}`;

/**
 * connector-ldap's safety rules against a real slapd: which groups a command may add to, posix
 * uid/gid numbers that are no existing group's, hashed passwords, paged group listing, and the
 * move disable method's enabled/disabled decision.
 */
describe('connector-ldap safety against a real slapd', () => {
  let slapd: RunningSlapd;
  let admin: Client;
  const connectors: LdapDirectoryConnector[] = [];

  const connectorFor = (extra: Record<string, unknown> = {}, bind: { dn: string; password: string } | undefined = undefined) => {
    const cfg = ldapTarget(slapd, { groupEntries: { base: GROUPS, placeholderMember: NOBODY }, disable: { method: 'attribute', attribute: 'employeeType', disabledValue: 'disabled' }, ...extra }, bind);
    // The first free number from the range (the service's allocator keeps a counter in its database).
    const allocate = async (isTaken: (n: number) => Promise<boolean>) => {
      for (let n = cfg.posix.uidNumber.min; n <= cfg.posix.uidNumber.max; n++) if (!(await isTaken(n))) return n;
      throw new Error('range exhausted');
    };
    const connector = new LdapDirectoryConnector(cfg, allocate);
    connectors.push(connector);
    return { connector, runtime: ldapRuntime(cfg, connector) };
  };
  const entry = async (dn: string, attributes = ['*']) => (await admin.search(dn, { scope: 'base', attributes })).searchEntries[0];
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => e as ConnectorError,
    );

  beforeAll(async () => {
    ({ slapd, admin } = await startDirectory({
      // The reader may see at most 3 entries per search, unless it pages (pages of up to 3).
      databaseConfig: [`limits dn.exact="${READER}" size.soft=3 size.hard=3 size.pr=3 size.prtotal=unlimited`],
    }));
    await admin.add(NOBODY, { objectClass: ['top', 'organizationalRole'], cn: 'nobody' });
    await admin.add(READER, { objectClass: ['top', 'organizationalRole', 'simpleSecurityObject'], cn: 'reader', userPassword: 'reader-secret' });
    for (const ou of ['admins', 'unixgroups', 'disabled']) await admin.add(`ou=${ou},${BASE}`, { objectClass: ['top', 'organizationalUnit'], ou });
    for (const g of ['app-devs', 'app-ops', 'app-qa', 'app-web', 'other'])
      await admin.add(`cn=${g},${GROUPS}`, { objectClass: ['top', 'groupOfNames'], cn: g, member: NOBODY });
    await admin.add(`cn=domain admins,ou=admins,${BASE}`, { objectClass: ['top', 'groupOfNames'], cn: 'domain admins', member: NOBODY });
  }, 60_000);

  afterAll(async () => {
    for (const c of connectors) await c.close();
    await stopDirectory(slapd, admin);
  });

  it('adds memberships only in managed groups under the group base; a refusal is permanent and names the group and the rule', async () => {
    const { runtime } = connectorFor({ groups: { managedPattern: '^(app-|cn=app-)' } });
    const base = desired('p-grp');
    expect((await converge(runtime, { ...base, groups: ['app-devs'] }, null)).status).toBe('APPLIED');
    const outside = await failure(converge(runtime, { ...base, version: 2, groups: ['app-devs', `cn=domain admins,ou=admins,${BASE}`] }, null));
    expect(outside).toBeInstanceOf(ConnectorError);
    expect(outside).toMatchObject({ code: 'INVALID_COMMAND', retriable: false });
    expect(outside!.message).toMatch(/refused .*not a managed group \(groups\.managedPattern/);
    const unmanaged = await failure(converge(runtime, { ...base, version: 3, groups: ['app-devs', 'other'] }, null));
    expect(unmanaged).toMatchObject({ code: 'INVALID_COMMAND', message: expect.stringMatching(/group other refused .*groups\.managedPattern/) });

    // Without a pattern, a DN outside groupEntries.base is still refused.
    const { runtime: open } = connectorFor();
    const dn = await failure(converge(open, { ...base, version: 4, groups: ['app-devs', `cn=domain admins,ou=admins,${BASE}`] }, null));
    expect(dn).toMatchObject({ code: 'INVALID_COMMAND', message: expect.stringContaining('not under the group base groupEntries.base') });
    expect((await entry(`cn=domain admins,ou=admins,${BASE}`))!['member']).toBe(NOBODY);
    // A DN under the base is fine.
    expect((await converge(open, { ...base, version: 5, groups: ['app-devs', `cn=app-ops,${GROUPS}`] }, null)).status).toBe('APPLIED');
  });

  it('allocates posix numbers that are no posixGroup\'s gidNumber (anywhere in the suffix) nor an account\'s', async () => {
    await admin.add(`cn=wheel,${GROUPS}`, { objectClass: ['top', 'posixGroup'], cn: 'wheel', gidNumber: '30000' });
    await admin.add(`cn=staff,ou=unixgroups,${BASE}`, { objectClass: ['top', 'posixGroup'], cn: 'staff', gidNumber: '30001' });
    await admin.add(`uid=legacy,${PEOPLE}`, {
      objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson', 'posixAccount'],
      uid: 'legacy',
      cn: 'legacy',
      sn: 'legacy',
      uidNumber: '40000',
      gidNumber: '30002',
      homeDirectory: '/home/legacy',
    });
    const { runtime } = connectorFor({ posix: { enabled: true, uidNumber: { min: 30000, max: 30010 } } });
    await converge(runtime, desired('p-posix'), null);
    const e = await entry(`uid=userposix,${PEOPLE}`);
    expect([e!['uidNumber'], e!['gidNumber']]).toEqual(['30003', '30003']);
  });

  it('hashes userPassword ({SSHA}) by default and the user binds with the password; cleartext on request', async () => {
    const { runtime } = connectorFor();
    await converge(runtime, desired('p-pw', { attributes: { mail: 'pw@example.org', password: 'S3cret pass!' } }), null);
    const stored = (await entry(`uid=userpw,${PEOPLE}`, ['userPassword']))!['userPassword'] as Buffer | string;
    expect(String(stored)).toMatch(/^\{SSHA\}[A-Za-z0-9+/]+=*$/);
    const user = new Client({ url: slapd.url });
    await user.bind(`uid=userpw,${PEOPLE}`, 'S3cret pass!');
    await user.unbind();
    await expect((async () => {
      const c = new Client({ url: slapd.url });
      try {
        await c.bind(`uid=userpw,${PEOPLE}`, 'wrong');
      } finally {
        await c.unbind().catch(() => undefined);
      }
    })()).rejects.toThrow();

    const { runtime: clear } = connectorFor({ passwordHash: 'cleartext' });
    await converge(clear, desired('p-pwclear', { attributes: { mail: 'pwc@example.org', password: 'plain' } }), null);
    expect(String((await entry(`uid=userpwclear,${PEOPLE}`, ['userPassword']))!['userPassword'])).toBe('plain');
  });

  it('lists groups with the paged results control (more groups than the bind may read in one search)', async () => {
    const { connector } = connectorFor({}, { dn: READER, password: 'reader-secret' });
    const names: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await connector.listGroups(cursor, 2);
      names.push(...page.items.map((g) => g.name));
      cursor = page.next;
    } while (cursor !== null);
    expect(names).toEqual(['app-devs', 'app-ops', 'app-qa', 'app-web', 'other', 'wheel']);
  });

  it('move disable: enabled/disabled by the entry\'s parent, whatever the spelling of disabledBase', async () => {
    const { runtime } = connectorFor({ disable: { method: 'move', disabledBase: `OU=Disabled, DC=example, DC=org` } });
    const d = desired('p-mover');
    await converge(runtime, d, null);
    expect((await converge(runtime, { ...d, version: 2, state: 'DISABLED' }, null)).operations.map((o) => o.type)).toEqual(['DISABLE']);
    expect(await entry(`uid=usermover,ou=disabled,${BASE}`)).toBeDefined();
    // Read back as disabled: a replay changes nothing.
    expect(await converge(runtime, { ...d, version: 3, state: 'DISABLED' }, null)).toMatchObject({ status: 'NO_CHANGE', operations: [] });
  });
});
