import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { reconcileCli } from '@provisio/connector-kit';
import { Topics, type DriftEvent, type ProvisioningResult, type ReconciliationRun } from '@provisio/contracts';
import { DltHeader } from '@provisio/messaging';
import {
  CommandSender,
  TopicCollector,
  createTestDatabase,
  mintToken,
  provisioningCommand,
  serviceTestEnv,
  uniqueId,
  uniqueTopicPrefix,
  waitFor,
  type TestDatabase,
} from '@provisio/testing';
import type { RunningService } from '@provisio/platform';
import { bootstrap } from '../src/bootstrap.js';

interface Role {
  rolname: string;
  rolcanlogin: boolean;
  rolconnlimit: number;
  comment: string | null;
  groups: string[];
}

/**
 * connector-postgres through its real entry point on the real broker, its own database and a
 * target database on the real PostgreSQL: commands in, roles changed, results out.
 */
describe('connector-postgres against a real PostgreSQL', () => {
  let state: TestDatabase;
  let target: TestDatabase;
  let service: RunningService;
  let prefix: string;
  let sender: CommandSender;
  let results: TopicCollector<ProvisioningResult>;
  let dlt: TopicCollector<Buffer | null>;
  let drift: TopicCollector<DriftEvent | ReconciliationRun>;
  // Roles are cluster-wide: every name of this run starts with a unique prefix.
  const p = uniqueId('pgc').toLowerCase();
  const role = (n: string) => `${p}_${n}`;
  const TARGET = 'pg-main';
  // Other runs on this cluster mark their roles too; this run's marker keeps their roles out of its reconciliation.
  const marker = `provisio:managed(${p}) person=`;

  const roleOf = async (name: string): Promise<Role | undefined> =>
    (
      await target.query<Role>(
        `SELECT r.rolname, r.rolcanlogin, r.rolconnlimit, shobj_description(r.oid, 'pg_authid') AS comment,
           ARRAY(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid ORDER BY 1) AS groups
         FROM pg_roles r WHERE r.rolname = $1`,
        [name],
      )
    )[0];
  const resultFor = (commandId: string) => results.waitFor((v) => v.find((r) => r.commandId === commandId), { what: `result of ${commandId}` });

  beforeAll(async () => {
    [state, target] = await Promise.all([createTestDatabase('pgc'), createTestDatabase('pgctarget')]);
    prefix = uniqueTopicPrefix();
    await target.query(`CREATE ROLE "${role('devs')}" NOLOGIN`);
    await target.query(`CREATE ROLE "${role('ops')}" NOLOGIN`);
    await target.query(`CREATE ROLE "${role('heir')}" NOLOGIN`);
    await target.query(`CREATE ROLE "${role('foreign')}" LOGIN`);
    const targets = [
      {
        id: TARGET,
        url: { env: 'PG_MAIN_URL' },
        markerPrefix: marker,
        concurrency: 4,
        delete: { ownedObjects: 'reassign', reassignTo: role('heir') },
        groups: { managedPattern: `^${p}_` },
        reconcile: { orphans: 'disable', pageSize: 2, maxOrphanShare: 1 },
      },
    ];
    service = await bootstrap(serviceTestEnv({ databaseUrl: state.url, topicPrefix: prefix, extra: { CONNECTOR_TARGETS: JSON.stringify(targets), PG_MAIN_URL: target.url } }));
    sender = new CommandSender(prefix);
    [results, dlt, drift] = await Promise.all([
      TopicCollector.start(`${prefix}${Topics.results}`, 'ProvisioningResult'),
      TopicCollector.start(`${prefix}${Topics.commands('postgres')}.dlt`),
      TopicCollector.start<DriftEvent | ReconciliationRun>(`${prefix}${Topics.drift}`, 'any'),
    ]);
  }, 120_000);

  afterAll(async () => {
    await service?.close();
    await Promise.all([sender?.close(), results?.stop(), dlt?.stop(), drift?.stop()]);
    const roles = await target.query<{ rolname: string }>(`SELECT rolname FROM pg_roles WHERE rolname LIKE $1`, [`${p}\\_%`]);
    for (const r of roles) await target.query(`DROP OWNED BY "${r.rolname}"`).catch(() => undefined);
    for (const r of roles) await target.query(`DROP ROLE IF EXISTS "${r.rolname}"`).catch(() => undefined);
    await Promise.all([state?.drop(), target?.drop()]);
  }, 60_000);

  it('creates a marked login role with its attributes and group memberships; a replay changes nothing', async () => {
    const c1 = provisioningCommand({ personId: 'p-ada', target: TARGET, targetKind: 'postgres', accountName: role('ada'), attributes: { connectionLimit: 3 }, groups: [role('devs')] });
    await sender.send('postgres', [c1]);
    const r1 = await resultFor(c1.commandId);
    expect(r1).toMatchObject({ status: 'APPLIED', version: 1, error: null, operations: [{ type: 'CREATE', detail: null }, { type: 'ADD_MEMBERSHIP', detail: role('devs') }] });
    expect(r1.accountRef).toMatch(/^\d+$/);
    expect(await roleOf(role('ada'))).toEqual({ rolname: role('ada'), rolcanlogin: true, rolconnlimit: 3, comment: `${marker}p-ada`, groups: [role('devs')] });

    const replay = { ...c1, commandId: `${c1.commandId}-again` };
    await sender.send('postgres', [replay]);
    expect(await resultFor(replay.commandId)).toMatchObject({ status: 'NO_CHANGE', operations: [] });
  });

  it('renames on a mover, writes only the difference, disables, and skips stale versions', async () => {
    const base = { personId: 'p-bob', target: TARGET, targetKind: 'postgres' } as const;
    const v1 = provisioningCommand({ ...base, accountName: role('bob'), groups: [role('devs')] });
    const v2 = provisioningCommand({ ...base, version: 2, accountName: role('robert'), attributes: { connectionLimit: 5 }, groups: [role('ops')] });
    const v3 = provisioningCommand({ ...base, version: 3, state: 'DISABLED', accountName: role('robert'), attributes: { connectionLimit: 5 }, groups: [role('ops')] });
    const stale = provisioningCommand({ ...base, version: 2, accountName: role('bob') });
    await sender.send('postgres', [v1, v2, v3, stale]);
    expect((await resultFor(v2.commandId)).operations.map((o) => o.type)).toEqual(['RENAME', 'UPDATE', 'REMOVE_MEMBERSHIP', 'ADD_MEMBERSHIP']);
    expect((await resultFor(v3.commandId)).operations).toEqual([{ type: 'DISABLE', detail: null }]);
    expect((await resultFor(stale.commandId)).status).toBe('SKIPPED_STALE');
    expect(await roleOf(role('bob'))).toBeUndefined();
    expect(await roleOf(role('robert'))).toMatchObject({ rolcanlogin: false, rolconnlimit: 5, groups: [role('ops')], comment: `${marker}p-bob` });
  });

  it('never touches a foreign role: FAILED result, dead letter with error headers, and the partition moves on', async () => {
    const bad = provisioningCommand({ personId: 'p-eve', target: TARGET, targetKind: 'postgres', accountName: role('foreign') });
    const unknown = provisioningCommand({ personId: 'p-eve', target: 'nowhere', targetKind: 'postgres', accountName: role('x') });
    const invalid = provisioningCommand({ personId: 'p-eve', target: TARGET, targetKind: 'postgres', accountName: role('y'), attributes: { shoeSize: 44 } });
    const after = provisioningCommand({ personId: 'p-eve', target: TARGET, targetKind: 'postgres', accountName: role('eve'), version: 2 });
    await sender.send('postgres', [bad, unknown, invalid, after]);
    expect(await resultFor(bad.commandId)).toMatchObject({ status: 'FAILED', error: { code: 'ACCOUNT_NOT_MANAGED', retriable: false } });
    expect((await resultFor(unknown.commandId)).error).toMatchObject({ code: 'UNKNOWN_TARGET', message: expect.stringContaining('"nowhere" is not configured') });
    expect((await resultFor(invalid.commandId)).error).toMatchObject({ code: 'TARGET_REJECTED', message: expect.stringContaining('attribute shoeSize is not supported') });
    expect((await resultFor(after.commandId)).status).toBe('APPLIED');
    const letters = await dlt.waitFor((v) => (v.length >= 3 ? dlt.records : undefined), { what: 'three dead letters' });
    expect(letters.map((l) => l.headers['ce_id'])).toEqual([bad.commandId, unknown.commandId, invalid.commandId]);
    expect(letters[0]!.headers[DltHeader.errorCode]).toBe('ACCOUNT_NOT_MANAGED');
    expect(letters[0]!.headers[DltHeader.errorClass]).toBe('ConnectorError');
    expect(await roleOf(role('foreign'))).toMatchObject({ rolcanlogin: true, comment: null });
  });

  it('drops a leaver\'s role, reassigning what it owns by the configured policy', async () => {
    const base = { personId: 'p-cat', target: TARGET, targetKind: 'postgres', accountName: role('cat') } as const;
    const v1 = provisioningCommand(base);
    await sender.send('postgres', [v1]);
    await resultFor(v1.commandId);
    await target.query(`CREATE TABLE ${p}_owned (id int)`);
    await target.query(`ALTER TABLE ${p}_owned OWNER TO "${role('cat')}"`);
    const v2 = provisioningCommand({ ...base, version: 2, state: 'ABSENT' });
    await sender.send('postgres', [v2]);
    expect((await resultFor(v2.commandId)).operations).toEqual([{ type: 'DELETE', detail: null }]);
    expect(await roleOf(role('cat'))).toBeUndefined();
    expect((await target.query<{ owner: string }>(`SELECT tableowner AS owner FROM pg_tables WHERE tablename = $1`, [`${p}_owned`]))[0]!.owner).toBe(role('heir'));
  });

  it('reconciles: reports drift as events and metrics, corrects it on demand, and leaves foreign roles alone', async () => {
    await target.query(`ALTER ROLE "${role('ada')}" NOLOGIN CONNECTION LIMIT 9`);
    await target.query(`REVOKE "${role('devs')}" FROM "${role('ada')}"`);
    await target.query(`CREATE ROLE "${role('ghost')}" LOGIN`);
    await target.query(`COMMENT ON ROLE "${role('ghost')}" IS '${marker}p-nobody'`);
    await target.query(`DROP ROLE "${role('eve')}"`);
    const token = await mintToken(['connector:read', 'connector:write']);
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

    const started = await fetch(`${service.url}/v1/targets/${TARGET}/reconciliations`, { method: 'POST', headers: auth, body: JSON.stringify({ mode: 'report' }) });
    expect(started.status).toBe(202);
    const { runId } = (await started.json()) as { runId: string };
    const report = await waitFor(async () => {
      const r = (await (await fetch(`${service.url}/v1/targets/${TARGET}/reconciliations/${runId}`, { headers: auth })).json()) as { status: string; drift: Record<string, number> };
      return r.status !== 'RUNNING' ? r : undefined;
    }, { what: 'report run' });
    expect(report).toMatchObject({ status: 'SUCCEEDED', drift: { WRONG_ATTRIBUTES: 1, WRONG_STATE: 1, WRONG_MEMBERSHIPS: 1, ORPHAN: 1, MISSING: 1 } });
    const events = await drift.waitFor((v) => {
      const mine = v.filter((e) => 'driftId' in e && e.runId === runId) as DriftEvent[];
      return mine.length >= 5 ? mine : undefined;
    }, { what: 'drift events' });
    expect(events.map((e) => [e.kind, e.personId, e.action]).sort()).toEqual(
      [
        ['MISSING', 'p-eve', 'REPORTED'],
        ['ORPHAN', 'p-nobody', 'REPORTED'],
        ['WRONG_ATTRIBUTES', 'p-ada', 'REPORTED'],
        ['WRONG_MEMBERSHIPS', 'p-ada', 'REPORTED'],
        ['WRONG_STATE', 'p-ada', 'REPORTED'],
      ].sort(),
    );
    expect(events.find((e) => e.kind === 'WRONG_ATTRIBUTES')!.details).toEqual(['connectionLimit']);
    expect(await roleOf(role('ada'))).toMatchObject({ rolcanlogin: false });

    // The CLI starts a correcting run through the API and waits for it.
    const out: string[] = [];
    const code = await reconcileCli(['reconcile', TARGET, '--mode', 'correct', '--url', service.url], 0, { env: { PROVISIO_TOKEN: token }, out: (l) => out.push(l), err: (l) => out.push(l) });
    expect(code).toBe(0);
    expect(JSON.parse(out.join('\n'))).toMatchObject({ status: 'SUCCEEDED', mode: 'correct', corrected: 5, correctionFailures: 0 });
    expect(await roleOf(role('ada'))).toMatchObject({ rolcanlogin: true, rolconnlimit: 3, groups: [role('devs')] });
    expect(await roleOf(role('eve'))).toMatchObject({ rolcanlogin: true, comment: `${marker}p-eve` });
    expect(await roleOf(role('ghost'))).toMatchObject({ rolcanlogin: false });
    expect(await roleOf(role('foreign'))).toMatchObject({ rolcanlogin: true, comment: null });

    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`provisio_connector_drift_accounts\\{[^}]*target="${TARGET}"[^}]*drift="WRONG_STATE"[^}]*\\} 1`));
    expect(metrics).toMatch(new RegExp(`provisio_connector_operations_total\\{[^}]*target="${TARGET}"[^}]*operation="create"[^}]*outcome="ok"[^}]*\\} [1-9]`));
    expect(metrics).toMatch(new RegExp(`provisio_connector_quarantine_state\\{[^}]*target="${TARGET}"[^}]*\\} 0`));
    const status = (await (await fetch(`${service.url}/v1/targets`, { headers: auth })).json()) as { kind: string; targets: { id: string; quarantine: { state: string } }[] };
    expect(status).toMatchObject({ kind: 'postgres', targets: [{ id: TARGET, quarantine: { state: 'closed' } }] });
    expect((await fetch(`${service.url}/v1/targets`)).status).toBe(401);
    expect((await fetch(`${service.url}/v1/targets/${TARGET}/reconciliations`, { method: 'POST', headers: { ...auth, authorization: `Bearer ${await mintToken(['connector:read'])}` }, body: '{}' })).status).toBe(403);
    expect((await fetch(`${service.url}/v1/targets/${TARGET}/reconciliations`, { method: 'POST', headers: auth, body: '{"mode":"fix-everything"}' })).status).toBe(400);
    expect((await fetch(`${service.url}/v1/targets/nope`, { headers: auth })).status).toBe(404);
  }, 90_000);
  it('lists the group roles that exist on the target, page by page, behind connector:read', async () => {
    const read = { authorization: `Bearer ${await mintToken(['connector:read'])}` };
    const names: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 1000; pages++) {
      const r = await fetch(`${service.url}/v1/targets/${TARGET}/groups?limit=50${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`, { headers: read });
      expect(r.status).toBe(200);
      const page = (await r.json()) as { items: { name: string; ref: string; memberCount?: number }[]; next: string | null };
      names.push(...page.items.map((g) => g.name));
      cursor = page.next;
      if (cursor === null) break;
    }
    expect(cursor).toBeNull();
    // Group roles of this run are there; login roles and Provisio's own accounts are not groups.
    expect(names).toEqual(expect.arrayContaining([role('devs'), role('ops'), role('heir')]));
    expect(names).not.toContain(role('foreign'));
    expect(names.some((n) => n.startsWith('pg_'))).toBe(false);
    expect(new Set(names).size).toBe(names.length);
    expect((await fetch(`${service.url}/v1/targets/${TARGET}/groups`)).status).toBe(401);
    expect((await fetch(`${service.url}/v1/targets/${TARGET}/groups?limit=0`, { headers: read })).status).toBe(400);
    expect((await fetch(`${service.url}/v1/targets/nowhere/groups`, { headers: read })).status).toBe(404);
  });
});
