import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startSlapd, type RunningSlapd } from '@provisio/devstack';
import type { RunningService } from '@provisio/platform';
import { createTestDatabase, mintToken, provisioningCommand, startConnectorService, type ConnectorUnderTest, type TestDatabase } from '@provisio/testing';
import { Attribute, Change, Client } from 'ldapts';
import { bootstrap } from '../src/bootstrap.js';

const BASE = 'dc=example,dc=org';
const CONNECTOR_DN = `cn=connector,${BASE}`;
const disable = { method: 'attribute', attribute: 'employeeType', disabledValue: 'disabled' };

/**
 * The kit's failure handling against a real slapd: a name collision the connector's read cannot
 * explain (dead letter, partition goes on, no quarantine), a leaver whose attribute update is
 * refused (disabled anyway), a failure after a create (the result keeps the create and the ref),
 * and wrong bind credentials (quarantine and parking, not dead letters; resumes once fixed).
 */
describe('connector kit failure handling against a real slapd', () => {
  let slapd: RunningSlapd;
  let db: TestDatabase;
  let svc: ConnectorUnderTest<RunningService>;
  let admin: Client;
  const resultFor = (commandId: string) => svc.results.waitFor((v) => v.find((r) => r.commandId === commandId), { what: `result of ${commandId}`, timeoutMs: 60_000 });
  const entry = async (dn: string) => (await admin.search(dn, { scope: 'base', attributes: ['*', 'entryUUID'] }).catch(() => ({ searchEntries: [] }))).searchEntries[0];

  beforeAll(async () => {
    // The connector may write everywhere except one container (an ACL on part of the tree).
    slapd = await startSlapd({ databaseConfig: [`access to dn.subtree="ou=locked,ou=acl,${BASE}" by * read`, `access to * by dn.exact="${CONNECTOR_DN}" write by * read`] });
    admin = new Client({ url: slapd.url });
    await admin.bind(slapd.rootDn, slapd.rootPassword);
    // The connector's own bind entry, with a password that is not the one the connector is configured with (rotated).
    await admin.add(CONNECTOR_DN, { objectClass: ['top', 'organizationalRole', 'simpleSecurityObject'], cn: 'connector', userPassword: 'rotated-elsewhere' });
    // The probe's ping reads the users base.
    await admin.add(`ou=auth,${BASE}`, { objectClass: ['top', 'organizationalUnit'], ou: 'auth' });
    for (const dn of [`ou=acl,${BASE}`, `ou=locked,ou=acl,${BASE}`, `ou=open,ou=acl,${BASE}`]) await admin.add(dn, { objectClass: ['top', 'organizationalUnit'], ou: dn.split(',')[0]!.slice(3) });
    db = await createTestDatabase('ldapkit');
    const root = { url: slapd.url, allowInsecureLdap: true, bindDn: slapd.rootDn, bindPassword: slapd.rootPassword, disable, retry: { initialMs: 100, maxMs: 1000 }, breaker: { consecutiveFailures: 3, openSeconds: 1, maxOpenSeconds: 2 } };
    const targets = [
      // Two persons with the same cn get the same DN.
      { ...root, id: 'coll', usersBase: `ou=coll,${BASE}`, dnTemplate: 'cn={attr.cn}' },
      { ...root, id: 'dis', usersBase: `ou=dis,${BASE}`, groupEntries: { base: `ou=groups,${BASE}` } },
      { ...root, id: 'auth', usersBase: `ou=auth,${BASE}`, bindDn: CONNECTOR_DN, bindPassword: 'the-new-one' },
      { ...root, id: 'acl', usersBase: `ou=acl,${BASE}`, dnTemplate: 'uid={accountName},ou={attr.ou}', bindDn: CONNECTOR_DN, bindPassword: 'the-new-one' },
    ];
    svc = await startConnectorService('ldap', bootstrap, { databaseUrl: db.url, targets });
  }, 120_000);

  afterAll(async () => {
    await svc?.close();
    await admin?.unbind().catch(() => undefined);
    await slapd?.destroy();
    await db?.drop();
  }, 60_000);

  const status = async (target: string) => {
    const token = await mintToken(['connector:read']);
    return (await (await fetch(`${svc.service.url}/v1/targets/${target}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { quarantine: { state: string; reason: string | null }; parked: { count: number } };
  };

  it('dead-letters a create whose DN collides with an entry the read cannot find; everyone else is applied, no quarantine', async () => {
    const person = (id: string, name: string, cn: string) => provisioningCommand({ personId: id, target: 'coll', targetKind: 'ldap', accountName: name, attributes: { cn, sn: 'S' } });
    const a = person('pc-a', 'alice', 'Same Name');
    await svc.sender.send('ldap', [a]);
    expect((await resultFor(a.commandId)).status).toBe('APPLIED');
    const b = person('pc-b', 'bob', 'Same Name');
    const others = Array.from({ length: 5 }, (_, i) => person(`pc-${i}`, `user${i}`, `Other ${i}`));
    await svc.sender.send('ldap', [b, ...others]);
    const rb = await resultFor(b.commandId);
    expect(rb.status).toBe('FAILED');
    expect(rb.error).toMatchObject({ code: 'TARGET_ALREADY_EXISTS', retriable: false });
    expect(rb.error!.message).toMatch(/creating the account of person pc-b on target coll failed: the name is taken/);
    for (const c of others) expect((await resultFor(c.commandId)).status).toBe('APPLIED');
    expect(svc.dlt.records).toHaveLength(1);
    expect((await status('coll')).quarantine.state).toBe('closed');
    // Alice's entry is untouched.
    expect(String((await entry(`cn=Same Name,ou=coll,${BASE}`))?.['uid'])).toBe('alice');
  }, 120_000);

  it("disables a leaver even when the target refuses the leaver's attribute update, and still reports the failure", async () => {
    const joiner = provisioningCommand({ personId: 'pd-1', target: 'dis', targetKind: 'ldap', accountName: 'leaver1', attributes: { displayName: 'Leaver', sn: 'L' } });
    await svc.sender.send('ldap', [joiner]);
    expect((await resultFor(joiner.commandId)).status).toBe('APPLIED');
    // displayName is single-valued in inetOrgPerson: slapd refuses two values (constraint violation).
    const leaver = { ...joiner, commandId: `${joiner.commandId}-v2`, version: 2, state: 'DISABLED' as const, attributes: { displayName: ['Leaver', 'Gone'], sn: 'L' } };
    const dead = svc.dlt.records.length;
    await svc.sender.send('ldap', [leaver]);
    const r = await resultFor(leaver.commandId);
    expect(r.status).toBe('FAILED');
    expect(r.error?.code).toBe('TARGET_REJECTED');
    expect(r.operations).toContainEqual({ type: 'DISABLE', detail: null });
    expect(r.accountRef).not.toBeNull();
    const e = await entry(`uid=leaver1,ou=dis,${BASE}`);
    expect(String(e?.['employeeType'])).toBe('disabled');
    expect(String(e?.['displayName'])).toBe('Leaver');
    await svc.results.waitFor(() => svc.dlt.records.length > dead, { what: 'the dead letter' });
  }, 120_000);

  it("keeps the writes of a failed command in its result and its ref for the next command", async () => {
    const joiner = provisioningCommand({ personId: 'pd-2', target: 'dis', targetKind: 'ldap', accountName: 'halfway', attributes: { sn: 'H' }, groups: ['no-such-group'] });
    await svc.sender.send('ldap', [joiner]);
    const r = await resultFor(joiner.commandId);
    expect(r.status).toBe('FAILED');
    expect(r.operations[0]).toEqual({ type: 'CREATE', detail: null });
    const e = await entry(`uid=halfway,ou=dis,${BASE}`);
    expect(r.accountRef).toBe(String(e?.['entryUUID']));
    const stored = await db.query<{ account_ref: string | null }>(`SELECT account_ref FROM connector_ldap.applied_versions WHERE person_id = 'pd-2' AND target = 'dis'`);
    expect(stored[0]?.account_ref).toBe(r.accountRef);
    const next = { ...joiner, commandId: `${joiner.commandId}-v2`, version: 2, groups: [] };
    await svc.sender.send('ldap', [next]);
    const r2 = await resultFor(next.commandId);
    expect(r2.status).toBe('NO_CHANGE');
    expect(r2.accountRef).toBe(r.accountRef);
  }, 120_000);

  it('treats refused bind credentials as a target problem: quarantined and parked, not dead-lettered; resumes once the credentials are fixed', async () => {
    const dead = svc.dlt.records.length;
    const commands = Array.from({ length: 4 }, (_, i) => provisioningCommand({ personId: `pa-${i}`, target: 'auth', targetKind: 'ldap', accountName: `auth${i}`, attributes: { sn: 'A' } }));
    await svc.sender.send('ldap', commands);
    const deadline = Date.now() + 30_000;
    let s = await status('auth');
    while (!(s.quarantine.state !== 'closed' && s.parked.count > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      s = await status('auth');
    }
    expect(s.quarantine.state).not.toBe('closed');
    expect(s.parked.count).toBeGreaterThan(0);
    // The reason tells credentials from an outage.
    expect(s.quarantine.reason).toMatch(/TARGET_UNAUTHORIZED/);
    const metrics = await (await fetch(`${svc.service.url}/metrics`)).text();
    expect(metrics).toMatch(/provisio_connector_errors_total\{[^}]*target="auth"[^}]*error_class="auth"[^}]*code="TARGET_UNAUTHORIZED"[^}]*\} [1-9]/);
    expect(svc.results.values().filter((r) => r.target === 'auth')).toEqual([]);
    expect(svc.dlt.records).toHaveLength(dead);

    // An operator sets the password the connector has: the probes get through and everything is applied.
    await admin.modify(CONNECTOR_DN, [new Change({ operation: 'replace', modification: new Attribute({ type: 'userPassword', values: ['the-new-one'] }) })]);
    for (const c of commands) expect((await resultFor(c.commandId)).status).toBe('APPLIED');
    expect(svc.dlt.records).toHaveLength(dead);
    expect((await status('auth')).quarantine.state).toBe('closed');
  }, 120_000);

  it('a permission refused for one entry only (the target answers everything else) fails that command instead of stalling the partition', async () => {
    const dead = svc.dlt.records.length;
    const person = (id: string, ou: string) => provisioningCommand({ personId: id, target: 'acl', targetKind: 'ldap', accountName: id, attributes: { sn: 'S', ou } });
    const locked = person('acl-x', 'locked');
    const others = [person('acl-y', 'open'), person('acl-z', 'open')];
    await svc.sender.send('ldap', [locked, ...others]);
    const r = await resultFor(locked.commandId);
    expect(r.status).toBe('FAILED');
    expect(r.error).toMatchObject({ code: 'TARGET_REJECTED', retriable: false });
    expect(r.error!.message).toMatch(/^permission refused for this command after \d+ attempts while the target answered other calls/);
    for (const c of others) expect((await resultFor(c.commandId)).status).toBe('APPLIED');
    expect(svc.dlt.records.length).toBe(dead + 1);
    expect((await status('acl')).quarantine.state).toBe('closed');
  }, 120_000);
});
