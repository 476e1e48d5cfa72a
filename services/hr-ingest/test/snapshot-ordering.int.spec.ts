import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { waitFor } from '@provisio/testing';
import { HrIngestHarness } from './harness.js';

// Effective dating, export times and arrival order through the real service: the mass-change
// brake also stops future terminations, a snapshot is judged by its asOf, and an older record
// that arrives late never brings a leaver back.

const MAPPING = `version: 1
snapshot: { mode: full, absentWorkers: leaver }
columns:
  workerId: WorkerID
  status: WorkerStatus
  userName: UserID
  hireDate: HireDate
  terminationDate: TerminationDate
  department: Department
values:
  WorkerStatus: { Active: active, Terminated: terminated }
`;
const HEADER = 'WorkerID,WorkerStatus,UserID,HireDate,TerminationDate,Department';

interface Row {
  id: string;
  status?: string;
  end?: string;
  dept?: string;
}
const csv = (rows: Row[]) => [HEADER, ...rows.map((r) => [r.id, r.status ?? 'Active', `u${r.id}`, '2020-01-15', r.end ?? '', r.dept ?? 'R&D'].join(','))].join('\n') + '\n';

interface SnapshotView {
  snapshotId: string;
  status: string;
  events: Record<string, number>;
  hold: { reason: string; leavers: number; population: number } | null;
}

describe('snapshots and deltas in time: brake on future terminations, asOf, late older records', () => {
  let h: HrIngestHarness;

  beforeAll(async () => {
    h = await HrIngestHarness.start();
    for (const source of ['brake', 'asof', 'rehire']) {
      const m = await h.request('PUT', `/v1/sources/${source}/csv-mappings/default`, { raw: MAPPING, contentType: 'application/yaml' });
      expect(m.status).toBe(200);
    }
  });
  afterAll(async () => {
    await h?.stop();
  });

  async function snapshot(source: string, rows: Row[], asOf: string): Promise<SnapshotView> {
    const res = await h.request('POST', `/v1/sources/${source}/snapshots?asOf=${asOf}`, { raw: csv(rows), contentType: 'text/csv' });
    expect(res.status).toBe(202);
    const id = res.json['snapshotId'] as string;
    return waitFor(
      async () => {
        const s = (await h.request('GET', `/v1/snapshots/${id}`, { token: h.readToken })).json as unknown as SnapshotView;
        return ['applied', 'held', 'failed'].includes(s.status) ? s : undefined;
      },
      { timeoutMs: 30_000, what: `snapshot ${id} to finish` },
    );
  }
  const worker = async (source: string, id: string) => (await h.request('GET', `/v1/sources/${source}/workers/${id}`, { token: h.readToken })).json;
  const pendingJobs = async (personIds: string[]) =>
    h.db.query<{ job_key: string; due_at: Date }>(`SELECT job_key, due_at FROM hr_ingest.scheduled_jobs WHERE status = 'pending' AND job_key = ANY($1::text[]) ORDER BY job_key`, [personIds]);
  const five = (p: string) => [1, 2, 3, 4, 5].map((i) => ({ id: `${p}${i}` }));

  it('holds a snapshot whose leavers are future-dated terminations, lists them, and schedules nothing until confirmed', async () => {
    expect(await snapshot('brake', five('B'), '2025-01-01T00:00:00Z')).toMatchObject({ status: 'applied', events: { JOINER: 5 } });
    const ids = [(await worker('brake', 'B1'))['personId'] as string, (await worker('brake', 'B2'))['personId'] as string].sort();

    const rows = five('B').map((r) => (r.id === 'B1' || r.id === 'B2' ? { ...r, status: 'Terminated', end: '2099-12-31' } : r));
    const held = await snapshot('brake', rows, '2025-02-01T00:00:00Z');
    expect(held).toMatchObject({ status: 'held', hold: { leavers: 2, population: 5 } });
    const leavers = (await h.request('GET', `/v1/snapshots/${held.snapshotId}/leavers`, { token: h.readToken })).json['leavers'] as { personId: string; workerId: string; reason: string }[];
    expect(leavers.map((l) => `${l.workerId}:${l.reason}`).sort()).toEqual(['B1:termination-scheduled', 'B2:termination-scheduled']);
    expect(await pendingJobs(ids)).toEqual([]);
    expect(await worker('brake', 'B1')).toMatchObject({ phase: 'active', attributes: expect.objectContaining({ terminationDate: null }) });

    expect((await h.request('POST', `/v1/snapshots/${held.snapshotId}/confirm`)).status).toBe(200);
    await waitFor(async () => ((await h.request('GET', `/v1/snapshots/${held.snapshotId}`, { token: h.readToken })).json['status'] === 'applied' ? true : undefined), { what: 'confirmed snapshot applied' });
    const jobs = await pendingJobs(ids);
    expect(jobs.map((j) => [j.job_key, j.due_at.toISOString()])).toEqual(ids.map((id) => [id, '2100-01-01T00:00:00.000Z']));
  });

  it('makes no leaver of a worker a newer record saw, and dates an absence leaver by the export time', async () => {
    expect(await snapshot('asof', five('A'), '2025-03-01T00:00:00Z')).toMatchObject({ status: 'applied', events: { JOINER: 5 } });
    const moved = await h.request('PUT', '/v1/sources/asof/workers/A1', { body: { sourceTimestamp: '2025-03-10T00:00:00Z', attributes: { department: 'Ops' } } });
    expect(moved.json).toMatchObject({ events: [{ kind: 'MOVER' }] });
    const personId = moved.json['personId'] as string;

    // Exported before A1's change: A1's absence says nothing about them.
    const older = await snapshot('asof', five('A').slice(1), '2025-03-05T00:00:00Z');
    expect(older).toMatchObject({ status: 'applied', events: {} });
    expect(await worker('asof', 'A1')).toMatchObject({ phase: 'active', removal: null });

    const newer = await snapshot('asof', five('A').slice(1), '2025-03-20T00:00:00Z');
    expect(newer).toMatchObject({ status: 'applied', events: { LEAVER: 1 } });
    const [leaver] = await h.eventsWhere((e) => e.personId === personId && e.kind === 'LEAVER');
    expect(leaver).toMatchObject({ reason: 'absent-from-snapshot', effectiveAt: Date.parse('2025-03-20T00:00:00Z'), source: expect.objectContaining({ batchId: newer.snapshotId }) });
  });

  it('never rehires a leaver with a record older than the termination; a newer record rehires, dated now', async () => {
    expect(await snapshot('rehire', five('R'), '2025-04-01T00:00:00Z')).toMatchObject({ status: 'applied', events: { JOINER: 5 } });
    expect(await snapshot('rehire', five('R').slice(1), '2025-04-10T00:00:00Z')).toMatchObject({ status: 'applied', events: { LEAVER: 1 } });

    const late = await h.request('PUT', '/v1/sources/rehire/workers/R1', { body: { sourceTimestamp: '2025-04-05T00:00:00Z', attributes: { status: 'active', department: 'Ops' } } });
    expect(late.status).toBe(200);
    const personId = late.json['personId'] as string;
    expect((late.json['events'] as { kind: string }[]).map((e) => e.kind)).toEqual(['UPDATE']);
    expect(await worker('rehire', 'R1')).toMatchObject({ phase: 'terminated', attributes: expect.objectContaining({ department: 'Ops' }) });

    const before = Date.now();
    const back = await h.request('PUT', '/v1/sources/rehire/workers/R1', { body: { sourceTimestamp: '2025-04-12T00:00:00Z', attributes: { status: 'active' } } });
    expect(back.json).toMatchObject({ events: [{ kind: 'REHIRE', stage: 'EFFECTIVE' }] });
    const [rehire] = await h.eventsWhere((e) => e.personId === personId && e.kind === 'REHIRE');
    expect(rehire!.effectiveAt).toBeGreaterThanOrEqual(before);
    await h.settle();
    expect(h.eventsOf(personId).map((e) => e.kind)).toEqual(['JOINER', 'LEAVER', 'UPDATE', 'REHIRE']);
  });
});
