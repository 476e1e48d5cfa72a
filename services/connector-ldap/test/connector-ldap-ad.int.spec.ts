import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConnectorError, planConvergence, type DesiredAccount } from '@provisio/connector-kit';
import { Topics, type ProvisioningResult } from '@provisio/contracts';
import { startSambaAd, type RunningSambaAd } from '@provisio/devstack';
import type { RunningService } from '@provisio/platform';
import { CommandSender, TopicCollector, createTestDatabase, mintToken, provisioningCommand, serviceTestEnv, uniqueTopicPrefix, waitFor, type TestDatabase } from '@provisio/testing';
import fc from 'fast-check';
import { Attribute, Change, Client } from 'ldapts';
import { readFileSync } from 'node:fs';
import { bootstrap } from '../src/bootstrap.js';
import { loadConnectorLdapConfig, type LdapTargetConfig } from '../src/config.js';
import { LdapDirectoryConnector } from '../src/ldap/ldap-directory.connector.js';
import { eq, escapeDnValue, sameDn } from '../src/ldap/ldap-escape.js';
import { UAC, guidToString } from '../src/ldap/vendors.js';

/**
 * The Active Directory dialect against a real AD implementation: a Samba AD DC (Debian's samba
 * 4.17) that the harness provisions as a throwaway domain and serves on 127.0.0.1:389/636.
 * Through the service and the kit (real broker) and through the connector directly: sAMAccountName
 * and userPrincipalName, unicodePwd over LDAPS only, userAccountControl, objectGUID as the ref,
 * renames and moves, group membership, deletion, hostile names, paged listing.
 */
describe('connector-ldap, Active Directory dialect, against a Samba AD DC', () => {
  let ad: RunningSambaAd;
  let db: TestDatabase;
  let service: RunningService;
  let sender: CommandSender;
  let results: TopicCollector<ProvisioningResult>;
  let admin: Client;
  let targetsJson: string;
  let root: string;
  let people: string;
  let groups: string;
  const connectors: LdapDirectoryConnector[] = [];

  const entry = async (dn: string, attributes = ['*', 'objectGUID']) => {
    try {
      return (await admin.search(dn, { scope: 'base', attributes, explicitBufferAttributes: ['objectGUID'] })).searchEntries[0];
    } catch {
      return undefined;
    }
  };
  const values = (e: Record<string, unknown> | undefined, a: string): string[] => {
    const key = Object.keys(e ?? {}).find((k) => k.toLowerCase() === a.toLowerCase());
    const v = key === undefined ? undefined : e![key];
    return v === undefined ? [] : (Array.isArray(v) ? v : [v]).map(String);
  };
  const uac = async (dn: string) => Number(values(await entry(dn), 'userAccountControl')[0]);
  const members = async (group: string) => values(await entry(`CN=${group},${groups}`, ['member']), 'member');
  const resultFor = (commandId: string) => results.waitFor((v) => v.find((r) => r.commandId === commandId), { what: `result of ${commandId}` });
  const targetConfig = (id: string): LdapTargetConfig =>
    loadConnectorLdapConfig({ ...serviceTestEnv({ databaseUrl: db.url, topicPrefix: 'x.' }), CONNECTOR_TARGETS: targetsJson, AD_TEST_PASSWORD: ad.adminPassword }).CONNECTOR_TARGETS!.find((t) => t.id === id)!;
  const connector = (id: string) => {
    const c = new LdapDirectoryConnector(targetConfig(id));
    connectors.push(c);
    return c;
  };
  /** A simple bind as the user over LDAPS: proves the password and that the account is enabled. */
  const canBind = async (dnOrUpn: string, password: string): Promise<boolean> => {
    const c = new Client({ url: ad.ldapsUrl, tlsOptions: { ca: readFileSync(ad.caFile), servername: ad.hostname } });
    try {
      await c.bind(dnOrUpn, password);
      return true;
    } catch {
      return false;
    } finally {
      await c.unbind().catch(() => undefined);
    }
  };
  const desired = (over: Partial<DesiredAccount> & Pick<DesiredAccount, 'personId' | 'accountName'>): DesiredAccount => ({ target: 'ad-ldaps', version: 1, state: 'ACTIVE', attributes: {}, groups: [], ...over });

  beforeAll(async () => {
    ad = await startSambaAd();
    root = `OU=Provisio,${ad.baseDn}`;
    people = `OU=People,${root}`;
    groups = `OU=Groups,${root}`;
    admin = new Client({ url: ad.ldapsUrl, tlsOptions: { ca: readFileSync(ad.caFile), servername: ad.hostname } });
    await admin.bind(ad.adminDn, ad.adminPassword);
    for (const ou of [root, people, groups]) await admin.add(ou, { objectClass: ['top', 'organizationalUnit'], ou: ou.split(',')[0]!.slice(3) });
    for (const g of ['devs', 'vpn']) await admin.add(`CN=${g},${groups}`, { objectClass: ['top', 'group'], cn: g, sAMAccountName: `grp-${g}` });
    db = await createTestDatabase('ldapad');
    const common = {
      dialect: 'ad',
      bindDn: ad.adminDn,
      bindPassword: { env: 'AD_TEST_PASSWORD' },
      usersBase: people,
      upnSuffix: ad.dnsDomain,
      groupEntries: { base: groups },
      tls: { caFile: ad.caFile, servername: ad.hostname },
    };
    targetsJson = JSON.stringify([
      { id: 'ad-ldaps', url: ad.ldapsUrl, ...common, dnTemplate: 'cn={accountName},ou={attr.department}' },
      { id: 'ad-starttls', url: ad.url, startTls: true, ...common },
      { id: 'ad-plain', url: ad.url, allowInsecureLdap: true, ...common, tls: {} },
    ]);
    const prefix = uniqueTopicPrefix();
    service = await bootstrap(serviceTestEnv({ databaseUrl: db.url, topicPrefix: prefix, extra: { CONNECTOR_TARGETS: targetsJson, AD_TEST_PASSWORD: ad.adminPassword } }));
    sender = new CommandSender(prefix);
    results = await TopicCollector.start(`${prefix}${Topics.results}`, 'ProvisioningResult');
  }, 180_000);

  afterAll(async () => {
    for (const c of connectors) await c.close().catch(() => undefined);
    await service?.close();
    await Promise.all([sender?.close(), results?.stop(), admin?.unbind().catch(() => undefined)]);
    await ad?.destroy();
    await db?.drop();
  }, 60_000);

  it('through the kit: creates a user (sAMAccountName, UPN, in its OU), adds memberships; a mover is renamed and moved; disable/enable by userAccountControl; delete', async () => {
    const base = { personId: 'ad-1', target: 'ad-ldaps', targetKind: 'ldap' } as const;
    const attrs = { givenName: 'Ada', sn: 'Lovelace', displayName: 'Ada Lovelace', mail: 'ada@provisio.test', department: 'Sales', title: 'Rep' };
    const v1 = provisioningCommand({ ...base, accountName: 'alovelace', attributes: attrs, groups: ['devs', 'vpn'] });
    await sender.send('ldap', [v1]);
    const r1 = await resultFor(v1.commandId);
    expect(r1).toMatchObject({ status: 'APPLIED', error: null });
    expect(r1.operations.map((o) => o.type)).toEqual(['CREATE', 'ADD_MEMBERSHIP', 'ADD_MEMBERSHIP']);
    const dn1 = `CN=alovelace,OU=Sales,${people}`;
    const e1 = await entry(dn1);
    expect(e1).toBeDefined();
    expect(values(e1, 'sAMAccountName')).toEqual(['alovelace']);
    expect(values(e1, 'userPrincipalName')).toEqual([`alovelace@${ad.dnsDomain}`]);
    expect(values(e1, 'description')).toEqual(['provisio:managed person=ad-1']);
    expect(values(e1, 'objectClass')).toEqual(expect.arrayContaining(['user', 'person']));
    expect(r1.accountRef).toBe(guidToString(e1!['objectGUID'] as Buffer));
    expect((await uac(dn1)) & UAC.ACCOUNTDISABLE).toBe(0);
    expect((await members('devs')).some((m) => sameDn(m, dn1))).toBe(true);
    expect((await members('vpn')).some((m) => sameDn(m, dn1))).toBe(true);

    const replay = { ...v1, commandId: `${v1.commandId}-replay` };
    await sender.send('ldap', [replay]);
    expect(await resultFor(replay.commandId)).toMatchObject({ status: 'NO_CHANGE', operations: [] });

    // A mover: new name, new department (= OU), one group less, a title removed.
    const moved = { ...attrs, department: 'Engineering', title: null };
    const v2 = provisioningCommand({ ...base, version: 2, accountName: 'aking', attributes: moved, groups: ['devs'] });
    const v3 = provisioningCommand({ ...base, version: 3, state: 'DISABLED', accountName: 'aking', attributes: moved, groups: ['devs'] });
    await sender.send('ldap', [v2, v3]);
    expect((await resultFor(v2.commandId)).operations.map((o) => o.type)).toEqual(['RENAME', 'UPDATE', 'REMOVE_MEMBERSHIP']);
    expect((await resultFor(v3.commandId)).operations).toEqual([{ type: 'DISABLE', detail: null }]);
    const dn2 = `CN=aking,OU=Engineering,${people}`;
    expect(await entry(dn1)).toBeUndefined();
    const e2 = await entry(dn2);
    expect(guidToString(e2!['objectGUID'] as Buffer)).toBe(r1.accountRef);
    expect(values(e2, 'sAMAccountName')).toEqual(['aking']);
    expect(values(e2, 'userPrincipalName')).toEqual([`aking@${ad.dnsDomain}`]);
    expect(values(e2, 'department')).toEqual(['Engineering']);
    expect(values(e2, 'title')).toEqual([]);
    expect((await uac(dn2)) & UAC.ACCOUNTDISABLE).toBe(UAC.ACCOUNTDISABLE);
    expect((await uac(dn2)) & UAC.NORMAL_ACCOUNT).toBe(UAC.NORMAL_ACCOUNT);
    expect((await members('devs')).filter((m) => sameDn(m, dn2))).toHaveLength(1);
    expect((await members('devs')).some((m) => sameDn(m, dn1))).toBe(false);
    expect((await members('vpn')).some((m) => sameDn(m, dn2) || sameDn(m, dn1))).toBe(false);

    const v4 = provisioningCommand({ ...base, version: 4, accountName: 'aking', attributes: moved, groups: ['devs'] });
    await sender.send('ldap', [v4]);
    expect((await resultFor(v4.commandId)).operations).toEqual([{ type: 'ENABLE', detail: null }]);
    expect((await uac(dn2)) & UAC.ACCOUNTDISABLE).toBe(0);

    const v5 = provisioningCommand({ ...base, version: 5, state: 'ABSENT', accountName: 'aking' });
    await sender.send('ldap', [v5]);
    expect((await resultFor(v5.commandId)).operations).toEqual([{ type: 'DELETE', detail: null }]);
    expect(await entry(dn2)).toBeUndefined();
    expect((await members('devs')).some((m) => sameDn(m, dn2))).toBe(false);
  });

  it('sets the initial password with unicodePwd over LDAPS (the user can bind), reads back by objectGUID, disables and enables keeping the other userAccountControl flags', async () => {
    const c = connector('ad-ldaps');
    const password = 'Initial-Passw0rd!';
    const d = desired({ personId: 'ad-2', accountName: 'gh0pper', attributes: { sn: 'Hopper', department: 'Research', password } });
    const created = await c.createAccount(d);
    expect(created).toMatchObject({ name: 'gh0pper', owner: 'ad-2', enabled: true });
    const dn = `CN=gh0pper,OU=Research,${people}`;
    expect(sameDn(created.location!, dn)).toBe(true);
    expect(await canBind(`gh0pper@${ad.dnsDomain}`, password)).toBe(true);
    expect(await canBind(`gh0pper@${ad.dnsDomain}`, 'wrong-Passw0rd!')).toBe(false);

    const byRef = await c.readAccount({ personId: 'ad-2', accountName: 'someone-else', accountRef: created.ref, desired: d });
    expect(byRef).toMatchObject({ ref: created.ref, name: 'gh0pper', owner: 'ad-2', enabled: true });
    // The password is never read back: the same command again plans nothing (no password reset).
    expect(planConvergence({ ...d, accountName: 'gh0pper' }, byRef, c.planOptions())).toEqual([]);

    // Another flag set by an administrator (DONT_EXPIRE_PASSWORD) survives disable and enable.
    const DONT_EXPIRE_PASSWORD = 0x10000;
    await admin.modify(dn, [new Change({ operation: 'replace', modification: new Attribute({ type: 'userAccountControl', values: [String(UAC.NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD)] }) })]);
    const read = (await c.readAccount({ personId: 'ad-2', accountName: 'gh0pper', accountRef: created.ref, desired: d }))!;
    await c.disableAccount(read, d);
    expect(await uac(dn)).toBe(UAC.NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD | UAC.ACCOUNTDISABLE);
    expect(await canBind(`gh0pper@${ad.dnsDomain}`, password)).toBe(false);
    const disabled = (await c.readAccount({ personId: 'ad-2', accountName: 'gh0pper', accountRef: created.ref, desired: d }))!;
    expect(disabled.enabled).toBe(false);
    await c.enableAccount(disabled, d);
    expect(await uac(dn)).toBe(UAC.NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD);
    expect(await canBind(`gh0pper@${ad.dnsDomain}`, password)).toBe(true);

    // A password change later (update) also goes as unicodePwd.
    const again = (await c.readAccount({ personId: 'ad-2', accountName: 'gh0pper', accountRef: created.ref, desired: d }))!;
    await c.updateAccount(again, { attributes: { password: 'Second-Passw0rd!' } }, d);
    expect(await canBind(`gh0pper@${ad.dnsDomain}`, 'Second-Passw0rd!')).toBe(true);
    await c.deleteAccount(again);
  });

  it('creates a disabled account that stays disabled, and works over StartTLS too', async () => {
    const c = connector('ad-starttls');
    const d = desired({ personId: 'ad-3', target: 'ad-starttls', accountName: 'tls-user', state: 'DISABLED', attributes: { sn: 'Tls', password: 'Start-Tls-Passw0rd!' } });
    const created = await c.createAccount(d);
    expect(created.enabled).toBe(false);
    expect((await uac(created.location!)) & UAC.ACCOUNTDISABLE).toBe(UAC.ACCOUNTDISABLE);
    expect(await canBind(`tls-user@${ad.dnsDomain}`, 'Start-Tls-Passw0rd!')).toBe(false);
    await c.enableAccount(created, { ...d, state: 'ACTIVE' });
    expect(await canBind(`tls-user@${ad.dnsDomain}`, 'Start-Tls-Passw0rd!')).toBe(true);
    await c.deleteAccount(created);
  });

  it('refuses unicodePwd over plain LDAP before sending anything: no account is created, no password is sent', async () => {
    const c = connector('ad-plain');
    await c.ping(); // the plain connection itself works (simple bind allowed)
    const d = desired({ personId: 'ad-4', target: 'ad-plain', accountName: 'plain-user', attributes: { sn: 'Plain', password: 'Plain-Passw0rd!' } });
    const err = await c.createAccount(d).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err).toMatchObject({ code: 'CONFIGURATION', message: expect.stringContaining('unicodePwd only over LDAPS or StartTLS') });
    expect(await entry(`CN=plain-user,${people}`)).toBeUndefined();

    // An existing account: the password update is refused, nothing else of that update is written.
    const withoutPassword = await c.createAccount({ ...d, attributes: { sn: 'Plain' } });
    const before = values(await entry(withoutPassword.location!, ['pwdLastSet']), 'pwdLastSet');
    await expect(c.updateAccount(withoutPassword, { attributes: { sn: 'Changed', password: 'Plain-Passw0rd!' } }, d)).rejects.toMatchObject({ code: 'CONFIGURATION' });
    expect(values(await entry(withoutPassword.location!, ['pwdLastSet', 'sn']), 'pwdLastSet')).toEqual(before);
    expect(values(await entry(withoutPassword.location!, ['sn']), 'sn')).toEqual(['Plain']);
    await c.deleteAccount(withoutPassword);
  });

  it('stores and finds hostile names exactly: DN escaping against AD (property test)', async () => {
    // sAMAccountName forbids " / \ [ ] : ; | = , + * ? < > (and 20 characters at most): the hostile
    // name is the DN's cn (the display name); the account name stays legal.
    const tmpl = JSON.parse(targetsJson) as Record<string, unknown>[];
    const cfg = loadConnectorLdapConfig({
      ...serviceTestEnv({ databaseUrl: db.url, topicPrefix: 'x.' }),
      CONNECTOR_TARGETS: JSON.stringify([{ ...tmpl[1], id: 'ad-hostile', dnTemplate: 'cn={attr.displayName}' }]),
      AD_TEST_PASSWORD: ad.adminPassword,
    }).CONNECTOR_TARGETS![0]!;
    const hc = new LdapDirectoryConnector(cfg);
    connectors.push(hc);
    const hostile = fc
      .array(fc.oneof(fc.constantFrom(',', '+', '"', '\\', '<', '>', ';', '=', '#', ' ', '*', '(', ')', "'", 'é', '李', '😀'), fc.string({ minLength: 1, maxLength: 1 })), { minLength: 1, maxLength: 12 })
      .map((a) => a.join(''))
      .filter((s) => /[^ ]/.test(s) && ![...s].some((ch) => ch.charCodeAt(0) < 0x20));
    let n = 0;
    const fixed = [' leading space', 'trailing space ', "o'brien, sean+1", '"quoted"', '#hash', 'Zoë Æsir 李', 'a\\b*(c)'];
    const check = async (raw: string) => {
      n++;
      const display = `${raw}${n}`;
      const d = desired({ personId: `hostile-${n}`, target: 'ad-hostile', accountName: `hostile${n}`, attributes: { displayName: display, sn: 'H' } });
      const created = await hc.createAccount(d);
      expect(created.name).toBe(`hostile${n}`);
      expect(sameDn(created.location!, `CN=${escapeDnValue(display)},${people}`)).toBe(true);
      const found = await hc.readAccount({ personId: d.personId, accountName: d.accountName, accountRef: null, desired: d });
      expect(found).toMatchObject({ name: d.accountName, owner: d.personId, ref: created.ref });
      expect(values({ v: found!.attributes['displayName'] ?? found!.attributes['displayname'] }, 'v')).toEqual([display]);
      const byFilter = await admin.search(people, { scope: 'one', filter: eq('displayName', display), attributes: ['displayName', 'cn'] });
      expect(byFilter.searchEntries.map((x) => values(x, 'cn')[0])).toEqual([display]);
      await hc.deleteAccount(found!);
      expect(await hc.readAccount({ personId: d.personId, accountName: d.accountName, accountRef: null, desired: d })).toBeNull();
    };
    for (const f of fixed) await check(f);
    await fc.assert(fc.asyncProperty(hostile, check), { numRuns: 20 });
  }, 120_000);

  it('refuses account names AD would refuse (sAMAccountName) before sending, and ignores a membership that is already there', async () => {
    const c = connector('ad-ldaps');
    for (const name of ['smith, john', 'a+b', 'x"y', 'abcdefghijklmnopqrstu']) {
      const d = desired({ personId: 'bad-name', accountName: name, attributes: { sn: 'B', department: 'Bad' } });
      await expect(c.createAccount(d)).rejects.toMatchObject({ code: 'TARGET_REJECTED', message: expect.stringContaining('sAMAccountName') });
    }
    expect(await entry(`OU=Bad,${people}`)).toBeUndefined();
    const a = await c.createAccount(desired({ personId: 'member-twice', accountName: 'twice', attributes: { sn: 'T', department: 'Groups' } }));
    await c.addGroupMembership(a, 'vpn');
    await c.addGroupMembership(a, 'vpn'); // AD answers entryAlreadyExists (68)
    expect((await members('vpn')).filter((m) => sameDn(m, a.location!))).toHaveLength(1);
    await c.removeGroupMembership(a, 'vpn');
    await c.removeGroupMembership(a, 'vpn');
    expect((await members('vpn')).some((m) => sameDn(m, a.location!))).toBe(false);
    const listedGroups = await c.listGroups(null, 10);
    expect(listedGroups.items.map((g) => g.name)).toEqual(['devs', 'vpn']);
    const devsGuid = guidToString((await entry(`CN=devs,${groups}`))!['objectGUID'] as Buffer);
    expect(listedGroups.items[0]!.ref).toBe(devsGuid);
    await c.deleteAccount(a);
  });

  it('lists accounts in pages for reconciliation, with their memberships, skipping nothing and never a computer', async () => {
    const c = connector('ad-ldaps');
    // A computer in the same OU is objectClass user too; it is not an account.
    await admin.add(`OU=Listing,${people}`, { objectClass: ['top', 'organizationalUnit'], ou: 'Listing' });
    await admin.add(`CN=ws01,OU=Listing,${people}`, { objectClass: ['top', 'person', 'organizationalPerson', 'user', 'computer'], sAMAccountName: 'ws01$' });
    const made = [];
    for (let i = 0; i < 12; i++) {
      made.push(await c.createAccount(desired({ personId: `list-${i}`, accountName: `list${i}`, attributes: { sn: `L${i}`, department: 'Listing' } })));
    }
    await c.addGroupMembership(made[0]!, 'vpn');
    await c.addGroupMembership(made[11]!, 'devs');
    const seen: { name: string; groups: string[]; owner: string | null; enabled: boolean }[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await c.listAccounts(cursor, 5);
      pages++;
      expect(page.items.length).toBeLessThanOrEqual(5);
      seen.push(...page.items.map((a) => ({ name: a.name, groups: a.groups, owner: a.owner, enabled: a.enabled })));
      cursor = page.next;
    } while (cursor !== null);
    const listed = seen.filter((a) => a.name.startsWith('list'));
    expect(listed.map((a) => a.name).sort()).toEqual(made.map((a) => a.name).sort());
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(listed.find((a) => a.name === 'list0')).toMatchObject({ owner: 'list-0', groups: ['vpn'], enabled: true });
    expect(listed.find((a) => a.name === 'list11')!.groups).toEqual(['devs']);
    // Only user accounts: the groups and OUs are not listed, and nothing twice.
    expect(new Set(seen.map((a) => a.name)).size).toBe(seen.length);
    expect(seen.map((a) => a.name)).not.toContain('grp-devs');
    expect(seen.map((a) => a.name)).not.toContain('ws01$');
    for (const a of made) await c.deleteAccount(a);
  }, 60_000);

  it('reconciles AD through the service: reports and corrects changed attributes and lost memberships, reports an unmanaged user, never a computer', async () => {
    const base = { personId: 'ad-rec', target: 'ad-ldaps', targetKind: 'ldap' } as const;
    const v1 = provisioningCommand({ ...base, accountName: 'recon', attributes: { sn: 'Recon', title: 'Auditor', department: 'Recon' }, groups: ['vpn'] });
    await sender.send('ldap', [v1]);
    expect(await resultFor(v1.commandId)).toMatchObject({ status: 'APPLIED' });
    const dn = `CN=recon,OU=Recon,${people}`;
    await admin.modify(dn, [new Change({ operation: 'replace', modification: new Attribute({ type: 'title', values: ['Somebody Else'] }) })]);
    await admin.modify(`CN=vpn,${groups}`, [new Change({ operation: 'delete', modification: new Attribute({ type: 'member', values: [dn] }) })]);
    await admin.add(`CN=stranger,OU=Recon,${people}`, { objectClass: ['top', 'person', 'organizationalPerson', 'user'], sAMAccountName: 'stranger' });
    await admin.add(`CN=ws02,OU=Recon,${people}`, { objectClass: ['top', 'person', 'organizationalPerson', 'user', 'computer'], sAMAccountName: 'ws02$' });
    const token = await mintToken(['connector:read', 'connector:write']);
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const started = (await (await fetch(`${service.url}/v1/targets/ad-ldaps/reconciliations`, { method: 'POST', headers: auth, body: '{"mode":"correct"}' })).json()) as { runId: string };
    const run = await waitFor(async () => {
      const r = (await (await fetch(`${service.url}/v1/targets/ad-ldaps/reconciliations/${started.runId}`, { headers: auth })).json()) as { status: string; drift: Record<string, number>; corrected: number };
      return r.status !== 'RUNNING' ? r : undefined;
    });
    expect(run).toMatchObject({ status: 'SUCCEEDED', drift: { WRONG_ATTRIBUTES: 1, WRONG_MEMBERSHIPS: 1, UNMANAGED: 1 }, corrected: 2 });
    expect(values(await entry(dn), 'title')).toEqual(['Auditor']);
    expect((await members('vpn')).some((m) => sameDn(m, dn))).toBe(true);
    expect(await entry(`CN=stranger,OU=Recon,${people}`)).toBeDefined();
    expect(await entry(`CN=ws02,OU=Recon,${people}`)).toBeDefined();
  }, 60_000);
});
