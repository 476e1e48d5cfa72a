import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestDatabase, lifecycleEvent as event, serviceTestEnv, uniqueTopicPrefix, waitFor } from '@provisio/testing';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrap } from '../src/bootstrap.js';
import { startPolicyService, type PolicyService } from './policy-service-kit.js';

const DAY = 86_400_000;

const POLICY = `apiVersion: provisio.dev/v1
kind: Policy
metadata: { name: versions-it }
lifecycle:
  leaver: { retention: 30d }
  unentitled: { action: disable, retention: 10d }
targets:
  - id: db
    kind: postgres
    account: { name: lower(userName) }
  - id: dir
    kind: ldap
    account: { name: lower(userName) }
    attributes:
      mail: concat(accountName, '.mail')
roles:
  - id: staff
    entitlements: { db: { groups: [staff] }, dir: { groups: [staff] } }
birthright:
  - { id: all, when: { attribute: userName, exists: true }, grant: [staff] }
`;
/** The same policy without the dir target. */
const WITHOUT_DIR = POLICY.replace(/ {2}- id: dir\n[\s\S]*?(?=roles:)/, '').replace(', dir: { groups: [staff] }', '');

/**
 * Policy versions through the real broker and PostgreSQL: a target dropped from the policy is
 * deprovisioned (simulation, engine and explain agree), rollback walks back the activation
 * history, reload, an invalid file at start, and the OpenAPI document.
 */
describe('policy versions on the real broker', () => {
  let s: PolicyService;

  beforeAll(async () => {
    s = await startPolicyService('policyver', POLICY);
  }, 120_000);

  afterAll(async () => {
    await s?.close();
  });

  it('refuses to start with an invalid policy file, naming file, line and rule; nothing is stored', async () => {
    const db = await createTestDatabase('policybad');
    try {
      const dir = mkdtempSync(join(tmpdir(), 'policybad-'));
      writeFileSync(join(dir, 'bad.yaml'), POLICY.replace('grant: [staff]', 'grant: [stafff]'));
      const started = bootstrap(serviceTestEnv({ databaseUrl: db.url, topicPrefix: uniqueTopicPrefix(), extra: { POLICY_PATH: join(dir, 'bad.yaml') } }));
      const line = POLICY.split('\n').findIndex((l) => l.includes('grant: [staff]')) + 1;
      await expect(started).rejects.toThrow(new RegExp(`bad\\.yaml:${line}:\\d+: birthright\\[0\\]\\.grant\\[0\\]: .*'stafff'.*\\[reference\\.unknown-role\\]`));
      expect(await db.query('SELECT version FROM policy.policy_versions')).toEqual([]);
    } finally {
      await db.drop();
    }
  });

  it('a target dropped from the policy: simulation, engine and explain agree that its accounts are disabled; a leaver afterwards does not re-enable them', async () => {
    const t0 = Date.now();
    await s.send(event('p-a', 'JOINER', { userName: 'p-a@x' }, t0));
    await waitFor(async () => s.commandsFor('p-a').length === 2, { what: 'joiner commands' });
    expect(s.commandsFor('p-a', 'dir')[0]).toMatchObject({ state: 'ACTIVE', groups: ['staff'], attributes: { mail: 'p-a@x.mail' } });

    const sim = await s.api('POST', '/v1/simulations?wait=true', { content: WITHOUT_DIR, name: 'v2.yaml' });
    expect(sim.status).toBe(201);
    expect(sim.body['summary']).toMatchObject({ targets: [expect.objectContaining({ target: 'dir', stateChanged: 1, groupsRemoved: { staff: 1 }, attributesChanged: 0 })] });
    const changes = await s.api('GET', `/v1/simulations/${sim.body['id'] as string}/changes?target=dir`);
    expect(changes.body['changes']).toEqual([expect.objectContaining({ personId: 'p-a', change: 'STATE', stateBefore: 'ACTIVE', stateAfter: 'DISABLED' })]);

    const activated = await s.api('POST', '/v1/policy/versions?activate=true', { content: WITHOUT_DIR, comment: 'dir retired' });
    expect(activated.status).toBe(201);
    await waitFor(async () => s.commandsFor('p-a', 'dir').length === 2, { what: 'dir deprovisioned' });
    expect(s.commandsFor('p-a', 'dir')[1]).toMatchObject({
      version: 2,
      state: 'DISABLED',
      groups: [],
      accountName: 'p-a@x',
      attributes: { mail: 'p-a@x.mail' },
      targetKind: 'ldap',
      cause: { reason: 'policy-change', policyVersion: 2 },
    });
    const explain = await s.api('GET', '/v1/persons/p-a/explain');
    const dir = (explain.body['targets'] as unknown as { target: string; reason: string; inScope: boolean }[]).find((t) => t.target === 'dir');
    expect(dir).toMatchObject({ inScope: false, reason: 'target removed from the policy; no longer in scope: account disabled, memberships removed' });
    expect(explain.body['pendingActions']).toEqual(expect.arrayContaining([expect.objectContaining({ action: 'delete', target: 'dir' })]));

    // A leaver afterwards: db disabled; dir stays disabled (no command makes it active again).
    await s.send(event('p-a', 'LEAVER', { userName: 'p-a@x', status: 'terminated' }, t0 + 1));
    await waitFor(async () => s.commandsFor('p-a', 'db').length === 2, { what: 'leaver' });
    expect(s.commandsFor('p-a', 'db')[1]).toMatchObject({ state: 'DISABLED' });
    expect(s.commandsFor('p-a', 'dir').map((c) => c.state)).toEqual(['ACTIVE', 'DISABLED']);
    expect((await s.targetRows('p-a')).find((r) => r.target === 'dir')).toMatchObject({ version: 2, state: 'DISABLED' });
    // Deleted after the leaver retention like any account of a leaver.
    await s.scheduler.runDue(new Date(t0 + 30 * DAY + 1000));
    await waitFor(async () => s.commandsFor('p-a', 'dir').length === 3, { what: 'dir deleted' });
    expect(s.commandsFor('p-a', 'dir')[2]).toMatchObject({ state: 'ABSENT', cause: { reason: 'scheduled' } });
  });

  it('rollback walks back the activation history (v3 → v2 → v1), or to an explicit earlier version', async () => {
    const active = async () => (await s.api('GET', '/v1/policy/active')).body['version'];
    const rollback = (body: Record<string, unknown> = {}) => s.api('POST', '/v1/policy/rollback', body);
    // History so far: 1 (file), 2 (without dir). Add 3.
    const v3 = await s.api('POST', '/v1/policy/versions?activate=true', { content: POLICY.replace('[staff] }, dir', '[staff, everyone] }, dir') });
    expect(v3.body).toMatchObject({ version: 3 });
    expect(await active()).toBe(3);
    expect((await rollback({ reason: 'undo 3' })).body).toMatchObject({ version: 2, kind: 'rollback' });
    expect((await rollback({ reason: 'undo 2' })).body).toMatchObject({ version: 1, kind: 'rollback' });
    expect(await active()).toBe(1);
    const none = await rollback();
    expect(none.status).toBe(409);
    expect(none.body).toMatchObject({ code: 'NOTHING_TO_ROLL_BACK' });
    // 1 → 3 → 2: an explicit target must be earlier in that history.
    expect((await s.api('POST', '/v1/policy/versions/3/activate', {})).status).toBe(200);
    expect((await s.api('POST', '/v1/policy/versions/2/activate', {})).status).toBe(200);
    expect((await rollback({ toVersion: 5 })).status).toBe(409);
    expect((await rollback({ toVersion: 1 })).body).toMatchObject({ version: 1, kind: 'rollback' });
    expect(await active()).toBe(1);
    expect((await rollback()).status).toBe(409);
  });

  it('reload: a valid changed file becomes the active version; an invalid one is refused with 422 and the active version stays; a missing file is named', async () => {
    const before = (await s.api('GET', '/v1/policy/active')).body['version'] as number;
    writeFileSync(s.policyPath, POLICY.replace('retention: 10d', 'retention: 20d'));
    const ok = await s.api('POST', '/v1/policy/reload');
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ version: 4, created: true, activation: expect.objectContaining({ version: 4, kind: 'file' }) });
    expect((await s.api('GET', '/v1/policy/active')).body['version']).toBe(4);
    expect(before).not.toBe(4);

    writeFileSync(s.policyPath, POLICY.replace('kind: postgres', 'kind: 42\n    bogus: true'));
    const bad = await s.api('POST', '/v1/policy/reload');
    expect(bad.status).toBe(422);
    const line = POLICY.split('\n').indexOf('    kind: postgres') + 1;
    expect(bad.body).toMatchObject({
      code: 'INVALID_POLICY',
      problems: expect.arrayContaining([expect.objectContaining({ file: 'policy.yaml', line }), expect.objectContaining({ file: 'policy.yaml', line: line + 1 })]),
    });
    expect((await s.api('GET', '/v1/policy/active')).body['version']).toBe(4);

    rmSync(s.policyPath);
    const missing = await s.api('POST', '/v1/policy/reload');
    expect(missing.status).toBe(409);
    expect(missing.body).toMatchObject({ code: 'POLICY_PATH_UNREADABLE', message: expect.stringContaining(`POLICY_PATH '${s.policyPath}': no such file or folder`) });
    expect((await s.api('GET', '/v1/policy/active')).body['version']).toBe(4);
  });

  it('serves its OpenAPI document listing every route', async () => {
    const res = await fetch(`${s.service.url}/docs/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
    const routes = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(routes).toEqual(
      expect.arrayContaining([
        'GET /v1/persons/{personId}/explain',
        'POST /v1/simulations',
        'GET /v1/simulations/{id}',
        'GET /v1/simulations/{id}/changes',
        'GET /v1/policy/schema',
        'GET /v1/policy/active',
        'GET /v1/policy/versions',
        'GET /v1/policy/versions/{version}',
        'POST /v1/policy/validate',
        'POST /v1/policy/versions',
        'POST /v1/policy/versions/{version}/activate',
        'POST /v1/policy/rollback',
        'POST /v1/policy/reload',
        'POST /v1/persons/{personId}/assignments',
        'GET /v1/persons/{personId}/assignments',
        'GET /v1/assignments',
        'DELETE /v1/assignments/{id}',
        'POST /v1/sod/exceptions',
        'GET /v1/sod/exceptions',
        'DELETE /v1/sod/exceptions/{id}',
        'GET /v1/sod/violations',
      ]),
    );
  });
});
