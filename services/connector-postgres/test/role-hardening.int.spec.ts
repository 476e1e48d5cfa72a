import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConnectorError, ConnectorErrorCode, type TargetRuntime, converge } from '@provisio/connector-kit';
import { createTestDatabase, type TestDatabase } from '@provisio/testing';
import fc from 'fast-check';
import pg from 'pg';
import { PostgresRoleConnector } from '../src/target/postgres-role.connector.js';
import { TargetSessions, desiredAccounts, pgRuntime, pgTarget, testRoles } from './role-test-kit.js';

interface RoleState {
  rolname: string;
  rolcanlogin: boolean;
  rolsuper: boolean;
  rolcreaterole: boolean;
  comment: string | null;
  groups: string[];
  members: string[];
}

/**
 * The role connector through the kit's converge on the real PostgreSQL (superuser connection):
 * a disable ends the role's sessions (also after a NOLOGIN set without it), hostile role names
 * are written exactly and nothing else, and the delete policies `drop` and `refuse`.
 */
describe('PostgresRoleConnector hardening on a real PostgreSQL', () => {
  let target: TestDatabase;
  const { p, role, marker } = testRoles('pgh');
  // Short, so that names quoting it stay within 63 bytes.
  const canary = role('c');
  const sessions = new TargetSessions(() => target.url);
  const closers: (() => Promise<void>)[] = [];
  const desired = desiredAccounts();

  /** A connector + runtime on the target, as the superuser, with these settings. */
  const open = (settings: Record<string, unknown> = {}) => {
    const config = pgTarget(target.url, marker, { concurrency: 2, groups: { managedPattern: `^${p}_g` }, ...settings });
    const connector = new PostgresRoleConnector(config);
    const runtime = pgRuntime(config, connector);
    closers.push(async () => {
      await runtime.close?.();
      await connector.close();
    });
    return { connector, runtime };
  };
  let main: ReturnType<typeof open>;

  /** A session logged in as `user` on the target database. */
  const sessionAs = (user: string) => sessions.as(user);
  const alive = (c: pg.Client) => c.query('SELECT 1').then(
    () => true,
    () => false,
  );
  const sessionsOf = async (name: string) => Number((await target.query<{ n: string }>(`SELECT count(*)::text AS n FROM pg_stat_activity WHERE usename = $1`, [name]))[0]!.n);
  /** Every role of this run, with what matters. */
  const rolesOfRun = async (): Promise<RoleState[]> =>
    target.query<RoleState>(
      `SELECT r.rolname, r.rolcanlogin, r.rolsuper, r.rolcreaterole, shobj_description(r.oid, 'pg_authid') AS comment,
         ARRAY(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid ORDER BY g.rolname COLLATE "C") AS groups,
         ARRAY(SELECT u.rolname::text FROM pg_auth_members m JOIN pg_roles u ON u.oid = m.member WHERE m.roleid = r.oid ORDER BY u.rolname COLLATE "C") AS members
       FROM pg_roles r WHERE starts_with(r.rolname, $1) ORDER BY r.rolname COLLATE "C"`,
      [p],
    );
  const superusers = async () => (await target.query<{ rolname: string }>(`SELECT rolname FROM pg_roles WHERE rolsuper ORDER BY 1`)).map((r) => r.rolname);

  beforeAll(async () => {
    target = await createTestDatabase('pghtarget');
    main = open();
    await target.query(`CREATE ROLE "${canary}" NOLOGIN`);
    await target.query(`COMMENT ON ROLE "${canary}" IS 'canary'`);
  }, 60_000);

  afterAll(async () => {
    await sessions.closeAll();
    for (const close of closers) await close();
    await target?.drop();
    const admin = new pg.Client({ connectionString: target.url.replace(/\/[^/]*$/, '/postgres') });
    await admin.connect();
    try {
      const roles = await admin.query<{ rolname: string }>(`SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1)`, [p]);
      for (const r of roles.rows) await admin.query(`DROP ROLE IF EXISTS "${r.rolname.replace(/"/g, '""')}"`).catch(() => undefined);
    } finally {
      await admin.end();
    }
  }, 60_000);

  describe('disable ends the sessions', () => {
    it('a disable with terminateSessions ends an open session of the role (and only of that role)', async () => {
      const d = desired('p-kill', role('kill'));
      const created = await converge(main.runtime, d, null);
      const bystander = desired('p-stay', role('stay'));
      await converge(main.runtime, bystander, null);
      const s = await sessionAs(role('kill'));
      const other = await sessionAs(role('stay'));
      expect(await sessionsOf(role('kill'))).toBe(1);

      expect(await converge(main.runtime, { ...d, version: desired.next(), state: 'DISABLED' }, created.accountRef)).toMatchObject({ status: 'APPLIED', operations: [{ type: 'DISABLE' }] });
      expect(await sessionsOf(role('kill'))).toBe(0);
      expect(await alive(s)).toBe(false);
      expect(await alive(other)).toBe(true);
      expect((await rolesOfRun()).find((r) => r.rolname === role('kill'))?.rolcanlogin).toBe(false);
      expect(await converge(main.runtime, { ...d, version: desired.next(), state: 'DISABLED' }, created.accountRef)).toMatchObject({ status: 'NO_CHANGE' });
    });

    it('a role already NOLOGIN with a session still open is not NO_CHANGE: the disable runs again and ends it; a rehire still enables it', async () => {
      const d = desired('p-half', role('half'));
      const created = await converge(main.runtime, d, null);
      const s = await sessionAs(role('half'));
      // What a termination that failed after the NOLOGIN left behind (or a DBA's NOLOGIN by hand).
      await target.query(`ALTER ROLE "${role('half')}" NOLOGIN`);
      // A rehire wants it ACTIVE: it reads as disabled and is enabled.
      expect(await converge(main.runtime, { ...d, version: desired.next() }, created.accountRef)).toMatchObject({ status: 'APPLIED', operations: [{ type: 'ENABLE' }] });
      await target.query(`ALTER ROLE "${role('half')}" NOLOGIN`);
      // The batch read decides the same as the single read.
      const leaver = { ...d, version: desired.next(), state: 'DISABLED' as const };
      const prefetched = await main.connector.readAccounts([{ personId: 'p-half', accountName: role('half'), accountRef: created.accountRef, desired: leaver }]);
      expect(prefetched.get('p-half')).toMatchObject({ enabled: false, openSessions: true });
      expect(await converge(main.runtime, leaver, created.accountRef, prefetched.get('p-half'))).toMatchObject({ status: 'APPLIED', operations: [{ type: 'DISABLE' }] });
      expect(await alive(s)).toBe(false);
      expect(await sessionsOf(role('half'))).toBe(0);
      expect(await converge(main.runtime, { ...leaver, version: desired.next() }, created.accountRef)).toMatchObject({ status: 'NO_CHANGE' });
    });

    it('with disable.terminateSessions off, sessions are left alone and a NOLOGIN role is disabled', async () => {
      const lenient = open({ disable: { terminateSessions: false } });
      const d = desired('p-soft', role('soft'));
      const created = await converge(lenient.runtime, d, null);
      const s = await sessionAs(role('soft'));
      expect(await converge(lenient.runtime, { ...d, version: desired.next(), state: 'DISABLED' }, created.accountRef)).toMatchObject({ status: 'APPLIED', operations: [{ type: 'DISABLE' }] });
      expect(await alive(s)).toBe(true);
      expect(await converge(lenient.runtime, { ...d, version: desired.next(), state: 'DISABLED' }, created.accountRef)).toMatchObject({ status: 'NO_CHANGE' });
    });
  });

  describe('hostile role names', () => {
    // Each starts with the run's prefix (roles are cluster-wide); groups match the managed pattern.
    const hostile = [
      `${p} a"; DROP ROLE "${canary}"; --`,
      `${p}'; DROP ROLE ${canary}; --`,
      `${p} with  spaces `,
      `${p};semi;colon;`,
      `${p}\\back\\slash\\'\\"`,
      `${p}$$dollar$$ $q$ x`,
      `${p}_UPPER_Case`,
      `${p}_ünïcødé_名前_🙂`,
      `${p}"."dot`,
      `${p}')::regrole; --`,
    ];
    // Unquoted, the first would grant the group to the canary: GRANT "<p>_g" TO "<p>_c";-- " TO <person>.
    const groups = [`${p}_g" TO "${canary}";--`, `${p}_g'; DROP ROLE ${canary}; --`, `${p}_g Ü $$ \\`];
    // Exactly 63 bytes (PostgreSQL's limit) with multi-byte characters up to the end, and one byte more.
    const fill = (prefix: string, bytes: number) => {
      let s = prefix;
      while (Buffer.byteLength(s + 'é') <= bytes) s += 'é';
      while (Buffer.byteLength(s) < bytes) s += '"';
      return s;
    };
    const longest = fill(`${p} "'`, 63);
    const tooLong = fill(`${p} "'`, 64);

    beforeAll(async () => {
      for (const g of groups) await target.query(`CREATE ROLE "${g.replace(/"/g, '""')}" NOLOGIN`);
    });

    it('create, rename, grant, disable (ending a session), revoke and drop: the exact names, nothing else', async () => {
      expect(Buffer.byteLength(longest)).toBe(63);
      for (const name of [...hostile, ...groups]) expect([name, Buffer.byteLength(name) <= 63]).toEqual([name, true]);
      const before = await rolesOfRun();
      const supers = await superusers();
      const names = [...hostile, longest];
      const expectRoles = async (persons: Map<string, { name: string; login: boolean; groups: string[] }>) => {
        const now = await rolesOfRun();
        const expected = [
          ...before,
          ...[...persons].map(([personId, r]) => ({
            rolname: r.name,
            rolcanlogin: r.login,
            rolsuper: false,
            rolcreaterole: false,
            comment: `${marker}${personId}`,
            groups: [...r.groups].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
            members: [],
          })),
        ];
        // Group roles list their members; everything else must be as before.
        const strip = (rs: RoleState[]) => rs.map((r) => (groups.includes(r.rolname) ? { ...r, members: [] } : r));
        expect(new Set(strip(now).map((r) => JSON.stringify(r)))).toEqual(new Set(expected.map((r) => JSON.stringify(r))));
        expect(now.find((r) => r.rolname === canary)).toEqual({ rolname: canary, rolcanlogin: false, rolsuper: false, rolcreaterole: false, comment: 'canary', groups: [], members: [] });
        expect(await superusers()).toEqual(supers);
      };

      const persons = new Map<string, { name: string; login: boolean; groups: string[] }>();
      const refs = new Map<string, string | null>();
      // Hostile person ids too: they end up in the COMMENT marker literal.
      const personOf = (i: number) => `p-${i}'"; --\\`;
      for (const [i, name] of names.entries()) {
        const g = [groups[i % groups.length]!];
        const r = await converge(main.runtime, desired(personOf(i), name, { groups: g, attributes: { connectionLimit: 3, validUntil: '2030-01-01T00:00:00Z' } }), null);
        expect(r).toMatchObject({ status: 'APPLIED', operations: [{ type: 'CREATE' }, { type: 'ADD_MEMBERSHIP' }] });
        refs.set(personOf(i), r.accountRef);
        persons.set(personOf(i), { name, login: true, groups: g });
      }
      await expectRoles(persons);

      // Movers: each takes the next one's name with a suffix, and a second group.
      for (const [i, name] of names.entries()) {
        const to = `${[...name].slice(0, -3).join('')}${i}"'`;
        const newName = Buffer.byteLength(to) > 63 ? `${p}"'${i}` : to;
        const g = [groups[i % groups.length]!, groups[(i + 1) % groups.length]!];
        const r = await converge(main.runtime, desired(personOf(i), newName, { groups: g, attributes: { connectionLimit: 3, validUntil: '2030-01-01T00:00:00Z' } }), refs.get(personOf(i))!);
        expect(r).toMatchObject({ status: 'APPLIED', operations: [{ type: 'RENAME' }, { type: 'ADD_MEMBERSHIP' }] });
        persons.set(personOf(i), { name: newName, login: true, groups: g });
      }
      await expectRoles(persons);

      // Leavers: a session of each is ended, one membership revoked.
      for (const [i] of names.entries()) {
        const person = persons.get(personOf(i))!;
        const s = await sessionAs(person.name);
        const g = [person.groups[1]!];
        const r = await converge(main.runtime, desired(personOf(i), person.name, { state: 'DISABLED', groups: g, attributes: { connectionLimit: 3, validUntil: '2030-01-01T00:00:00Z' } }), refs.get(personOf(i))!);
        expect(r).toMatchObject({ status: 'APPLIED', operations: [{ type: 'REMOVE_MEMBERSHIP' }, { type: 'DISABLE' }] });
        expect(await alive(s)).toBe(false);
        persons.set(personOf(i), { name: person.name, login: false, groups: g });
      }
      await expectRoles(persons);

      // Replays change nothing.
      for (const [i] of names.entries()) {
        const person = persons.get(personOf(i))!;
        const replay = desired(personOf(i), person.name, { state: 'DISABLED', groups: person.groups, attributes: { connectionLimit: 3, validUntil: '2030-01-01T00:00:00Z' } });
        expect(await converge(main.runtime, replay, null)).toMatchObject({ status: 'NO_CHANGE' });
      }

      for (const [i] of names.entries()) {
        const person = persons.get(personOf(i))!;
        expect(await converge(main.runtime, desired(personOf(i), person.name, { state: 'ABSENT' }), refs.get(personOf(i))!)).toMatchObject({ status: 'APPLIED', operations: [{ type: 'DELETE' }] });
        persons.delete(personOf(i));
      }
      await expectRoles(persons);
    }, 120_000);

    it('a name of 64 bytes is refused permanently and nothing is created', async () => {
      const before = await rolesOfRun();
      const e = await converge(main.runtime, desired('p-long', tooLong), null).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(ConnectorError);
      expect((e as ConnectorError).code).toBe(ConnectorErrorCode.Rejected);
      expect((e as ConnectorError).message).toMatch(/64 bytes; PostgreSQL allows at most 63/);
      expect(await rolesOfRun()).toEqual(before);
    });

    it('property: any name of quotes, separators, backslashes, dollars, case and non-ASCII is created, read back and dropped exactly', async () => {
      const alphabet = ['"', "'", ';', ' ', '\\', '$', '-', '.', ',', '(', ')', '*', '/', 'A', 'z', 'é', '名', '🙂', '\t', '%', '_'];
      let n = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(fc.constantFrom(...alphabet), { minLength: 1, maxLength: 24 }), async (chars) => {
          const name = `${p}${chars.join('')}`;
          fc.pre(Buffer.byteLength(name) <= 63);
          const personId = `p-prop-${++n}`;
          const before = await rolesOfRun();
          const r = await converge(main.runtime, desired(personId, name), null);
          const after = await rolesOfRun();
          expect(after.filter((x) => !before.some((b) => b.rolname === x.rolname)).map((x) => [x.rolname, x.comment])).toEqual([[name, `${marker}${personId}`]]);
          expect(await converge(main.runtime, desired(personId, name), null)).toMatchObject({ status: 'NO_CHANGE' });
          await converge(main.runtime, desired(personId, name, { state: 'ABSENT' }), r.accountRef);
          expect(await rolesOfRun()).toEqual(before);
        }),
        { numRuns: 30 },
      );
    }, 120_000);
  });

  describe('delete policies', () => {
    /** A role of this person owning a table, holding a privilege on another one (both in the target database). */
    const withObjects = async (runtime: TargetRuntime, personId: string, name: string) => {
      const r = await converge(runtime, desired(personId, name), null);
      const q = `"${name}"`;
      await target.query(`CREATE TABLE "${name}_owned" (id int)`);
      await target.query(`ALTER TABLE "${name}_owned" OWNER TO ${q}`);
      await target.query(`CREATE TABLE "${name}_shared" (id int)`);
      await target.query(`GRANT SELECT ON "${name}_shared" TO ${q}`);
      return r.accountRef;
    };
    const tables = async (name: string) =>
      target.query<{ relname: string; owner: string; acl: string | null }>(
        `SELECT c.relname, pg_get_userbyid(c.relowner) AS owner, c.relacl::text AS acl FROM pg_class c WHERE c.relname IN ($1, $2) ORDER BY 1`,
        [`${name}_owned`, `${name}_shared`],
      );

    it('drop: the objects the role owns are dropped, its privileges revoked, the role dropped', async () => {
      const { runtime } = open({ delete: { ownedObjects: 'drop' } });
      const name = role('dropper');
      const ref = await withObjects(runtime, 'p-drop', name);
      const s = await sessionAs(name);
      expect(await converge(runtime, desired('p-drop', name, { state: 'ABSENT' }), ref)).toMatchObject({ status: 'APPLIED', operations: [{ type: 'DELETE' }] });
      expect(await alive(s)).toBe(false);
      expect((await rolesOfRun()).map((r) => r.rolname)).not.toContain(name);
      const left = await tables(name);
      expect(left.map((t) => t.relname)).toEqual([`${name}_shared`]);
      expect(left[0]!.acl ?? '').not.toContain(name);
    });

    it('refuse: a role owning objects is not dropped; permanent error naming the policy and the objects; nothing changed', async () => {
      const { runtime } = open({ delete: { ownedObjects: 'refuse' } });
      const name = role('keeper');
      const ref = await withObjects(runtime, 'p-keep', name);
      const before = await tables(name);
      const e = await converge(runtime, desired('p-keep', name, { state: 'ABSENT' }), ref).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(ConnectorError);
      const err = e as ConnectorError;
      expect(err.code).toBe(ConnectorErrorCode.Rejected);
      expect(err.retriable).toBe(false);
      expect(err.message).toMatch(new RegExp(`^role oid ${ref} \\(person p-keep\\) owns objects or holds privileges \\(.*owner of table ${name}_owned.*\\); the target's delete\\.ownedObjects policy is "refuse"`));
      expect(err.message).toContain(`privileges for table ${name}_shared`);
      expect((await rolesOfRun()).find((r) => r.rolname === name)).toMatchObject({ rolcanlogin: true, comment: `${marker}p-keep` });
      expect(await tables(name)).toEqual(before);
      // Once the objects are gone, the same command drops the role.
      await target.query(`DROP TABLE "${name}_owned"`);
      await target.query(`REVOKE ALL ON "${name}_shared" FROM "${name}"`);
      expect(await converge(runtime, desired('p-keep', name, { state: 'ABSENT' }), ref)).toMatchObject({ status: 'APPLIED', operations: [{ type: 'DELETE' }] });
      expect((await rolesOfRun()).map((r) => r.rolname)).not.toContain(name);
    });

    it('reassign: objects in another database than the target URL\'s fail permanently with a message saying why; nothing changed', async () => {
      const heir = role('heir');
      await target.query(`CREATE ROLE "${heir}" NOLOGIN`);
      const { runtime } = open({ delete: { ownedObjects: 'reassign', reassignTo: heir } });
      const name = role('elsewhere');
      const ref = (await converge(runtime, desired('p-else', name), null)).accountRef;
      const other = await createTestDatabase('pghother');
      try {
        await other.query(`CREATE TABLE "${name}_far" (id int)`);
        await other.query(`ALTER TABLE "${name}_far" OWNER TO "${name}"`);
        await target.query(`CREATE TABLE "${name}_near" (id int)`);
        await target.query(`ALTER TABLE "${name}_near" OWNER TO "${name}"`);
        const e = await converge(runtime, desired('p-else', name, { state: 'ABSENT' }), ref).then(
          () => undefined,
          (x: unknown) => x,
        );
        expect(e).toBeInstanceOf(ConnectorError);
        expect((e as ConnectorError).retriable).toBe(false);
        expect((e as ConnectorError).message).toMatch(/still owns objects or holds privileges that delete\.ownedObjects "reassign" did not remove \(.*1 object in database .*\): REASSIGN\/DROP OWNED act only on the target URL's database/);
        // The transaction rolled back: the near table is still the role's.
        expect((await target.query<{ o: string }>(`SELECT pg_get_userbyid(relowner) AS o FROM pg_class WHERE relname = $1`, [`${name}_near`]))[0]?.o).toBe(name);
        expect((await rolesOfRun()).map((r) => r.rolname)).toContain(name);
        await other.query(`DROP TABLE "${name}_far"`);
        expect(await converge(runtime, desired('p-else', name, { state: 'ABSENT' }), ref)).toMatchObject({ status: 'APPLIED', operations: [{ type: 'DELETE' }] });
        expect((await target.query<{ o: string }>(`SELECT pg_get_userbyid(relowner) AS o FROM pg_class WHERE relname = $1`, [`${name}_near`]))[0]?.o).toBe(heir);
      } finally {
        await other.drop();
      }
    });
  });
});
