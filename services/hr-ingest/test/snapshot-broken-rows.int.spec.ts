import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { waitFor } from '@provisio/testing';
import { HrIngestHarness } from './harness.js';

// The worker id first (the usual export), and a file where it comes after a free-text column.
const ID_FIRST = `version: 1
snapshot: { mode: full, absentWorkers: leaver }
columns: { workerId: WorkerID, status: WorkerStatus, department: Department, jobTitle: JobTitle }
values: { WorkerStatus: { Active: active, Terminated: terminated } }
`;
const ID_LATER = `version: 1
snapshot: { mode: full, absentWorkers: leaver }
columns: { department: Department, workerId: WorkerID, status: WorkerStatus }
values: { WorkerStatus: { Active: active } }
`;

interface SnapshotView {
  snapshotId: string;
  status: string;
  rows: { total: number; rejected: number };
  events: Record<string, number>;
  hold: { rule: string; reason: string; leavers: number; population: number } | null;
}

describe('a full snapshot with broken rows never makes a false leaver (real broker and PostgreSQL)', () => {
  let h: HrIngestHarness;
  const ids = Array.from({ length: 10 }, (_, i) => `W${String(i + 1).padStart(3, '0')}`);
  const row = (id: string, dept = 'Sales') => `${id},Active,${dept},Engineer`;
  const file = (rows: string[]) => ['WorkerID,WorkerStatus,Department,JobTitle', ...rows].join('\n') + '\n';

  beforeAll(async () => {
    h = await HrIngestHarness.start({ SNAPSHOT_BATCH_SIZE: '4' });
    for (const [source, yaml] of [['hr-a', ID_FIRST], ['hr-b', ID_LATER], ['hr-c', ID_FIRST]] as const) {
      expect((await h.request('PUT', `/v1/sources/${source}/csv-mappings/default`, { raw: yaml, contentType: 'application/yaml' })).status).toBe(200);
    }
  });
  afterAll(async () => {
    await h?.stop();
  });

  const upload = async (source: string, body: string) => {
    const r = await h.request('POST', `/v1/sources/${source}/snapshots`, { raw: body, contentType: 'text/csv' });
    expect(r.status).toBe(202);
    return r.json['snapshotId'] as string;
  };
  const finished = (id: string) =>
    waitFor(
      async () => {
        const s = (await h.request('GET', `/v1/snapshots/${id}`, { token: h.readToken })).json as unknown as SnapshotView;
        return ['applied', 'held', 'failed', 'discarded'].includes(s.status) ? s : undefined;
      },
      { timeoutMs: 30_000, what: `snapshot ${id} to finish` },
    );
  const leaversOf = (snapshotId: string) => h.events.map((e) => e.value).filter((e) => e.source.batchId === snapshotId && e.kind === 'LEAVER');
  const rejections = async (snapshotId: string) =>
    (await h.request('GET', `/v1/snapshots/${snapshotId}/rejections`, { token: h.readToken })).json['rows'] as { line: number; workerId: string | null; errors: { rule: string; message: string }[] }[];

  it('a row with an unquoted delimiter (one cell too many) or a cell too few still counts its worker as present', async () => {
    expect(await finished(await upload('hr-a', file(ids.map((id) => row(id)))))).toMatchObject({ status: 'applied', events: { JOINER: 10 } });
    // "R&D, Europe" unquoted: W002's row has 5 cells; W003's row lost its job title cell.
    const broken = ids.map((id) => (id === 'W002' ? row(id, 'R&D, Europe') : id === 'W003' ? 'W003,Active,Sales' : row(id, id === 'W004' ? 'Legal' : 'Sales')));
    const s = await finished(await upload('hr-a', file(broken)));
    expect(s).toMatchObject({ status: 'applied', events: { MOVER: 1 }, rows: { total: 10, rejected: 2 } });
    await h.settle();
    expect(leaversOf(s.snapshotId)).toEqual([]);
    const rej = await rejections(s.snapshotId);
    expect(rej.map((r) => [r.workerId, r.errors.map((e) => e.rule)])).toEqual([
      ['W002', ['column-count']],
      ['W003', ['column-count']],
    ]);
    expect(rej[0]!.errors[0]!.message).toContain('must be quoted');
    for (const id of ['W002', 'W003']) expect((await h.request('GET', `/v1/sources/hr-a/workers/${id}`, { token: h.readToken })).json['phase']).toBe('active');
  });

  it('the id is found when the shifted cells come before the id column', async () => {
    const header = 'Department,WorkerID,WorkerStatus';
    expect(await finished(await upload('hr-b', [header, 'Sales,B1,Active', 'Sales,B2,Active', 'Sales,B3,Active', 'Sales,B4,Active', 'Sales,B5,Active', ''].join('\n')))).toMatchObject({
      status: 'applied',
      events: { JOINER: 5 },
    });
    // B2's department splits in two: its id moves one cell to the right.
    const s = await finished(await upload('hr-b', [header, 'Sales,B1,Active', 'R&D, Europe,B2,Active', 'Sales,B3,Active', 'Sales,B4,Active', 'Sales,B5,Active', ''].join('\n')));
    expect(s).toMatchObject({ status: 'applied', events: {}, rows: { rejected: 1 } });
    await h.settle();
    expect(leaversOf(s.snapshotId)).toEqual([]);
  });

  it('a row whose worker id cannot be read holds the absentees of the snapshot instead of guessing', async () => {
    expect(await finished(await upload('hr-c', file(ids.map((id) => row(id)))))).toMatchObject({ status: 'applied', events: { JOINER: 10 } });
    // An unreadable row while everybody is in the file: nothing to hold, the rest applies.
    const allThere = await finished(await upload('hr-c', file([...ids.map((id) => row(id)), ',Active,Sales,Engineer'])));
    expect(allThere).toMatchObject({ status: 'applied', hold: null, rows: { rejected: 1 } });

    // W007's id cell is empty (and W007 is otherwise absent): it may be W007 — or not.
    await h.settle();
    const events = h.events.length;
    const s = await finished(await upload('hr-c', file(ids.map((id) => (id === 'W007' ? ',Active,Sales,Engineer' : row(id))))));
    expect(s).toMatchObject({ status: 'held', hold: { rule: 'readable-worker-ids', leavers: 1, population: 10 } });
    expect(s.hold!.reason).toContain('no readable worker id');
    const listed = (await h.request('GET', `/v1/snapshots/${s.snapshotId}/leavers`, { token: h.readToken })).json['leavers'] as { workerId: string; reason: string }[];
    expect(listed).toEqual([expect.objectContaining({ workerId: 'W007', reason: 'absent-from-snapshot' })]);
    expect((await rejections(s.snapshotId)).map((r) => r.errors.map((e) => e.rule))).toEqual([['required']]);
    await h.settle();
    expect(h.events.length).toBe(events);
    expect((await h.request('GET', '/v1/sources/hr-c/workers/W007', { token: h.readToken })).json['phase']).toBe('active');

    // Discarded: nothing happens; a confirmed hold applies its leavers as listed.
    expect((await h.request('POST', `/v1/snapshots/${s.snapshotId}/discard`)).json).toMatchObject({ status: 'discarded' });
    const again = await finished(await upload('hr-c', file(ids.filter((id) => id !== 'W007').map((id) => row(id)).concat(',Active,Sales,Engineer'))));
    expect(again).toMatchObject({ status: 'held', hold: { rule: 'readable-worker-ids' } });
    expect((await h.request('POST', `/v1/snapshots/${again.snapshotId}/confirm`)).status).toBe(200);
    expect(await finished(again.snapshotId)).toMatchObject({ status: 'applied', events: { LEAVER: 1 } });
  });
});
