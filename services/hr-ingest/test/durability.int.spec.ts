import { afterEach, describe, expect, it } from '@jest/globals';
import { waitFor } from '@provisio/testing';
import { HrIngestHarness } from './harness.js';

const MAPPING = 'columns:\n  workerId: WorkerID\n  status: Status\n  department: Department\n';
const csv = (ids: string[], dept = 'R&D') => `WorkerID,Status,Department\n${ids.map((id) => `${id},active,${dept}`).join('\n')}\n`;

/** Restarts, replicas and interrupted snapshots: every lifecycle event exactly once. */
describe('durable effective dating and snapshots across restarts and replicas', () => {
  let h: HrIngestHarness | undefined;

  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('a future termination survives a restart and fires exactly once with two replicas running', async () => {
    h = await HrIngestHarness.start();
    const due = new Date(Date.now() + 2500).toISOString();
    const people: string[] = [];
    for (const id of ['T1', 'T2', 'T3', 'T4']) {
      const r = await h.request('PUT', `/v1/sources/hr/workers/${id}`, { body: { attributes: { userName: id, status: 'active', terminationDate: due } } });
      expect(r.status).toBe(200);
      people.push(r.json['personId'] as string);
    }
    // Down while the terminations fall due; then two instances race for the jobs.
    await h.restart({}, () => new Promise((r) => setTimeout(r, 3000)));
    await h.replica();
    const leavers = await h.eventsWhere((e) => e.kind === 'LEAVER' && people.includes(e.personId), 4, 30_000);
    expect(leavers.map((e) => e.effectiveAt)).toEqual(people.map(() => Date.parse(due)));
    await h.settle();
    expect(h.events.filter((e) => e.value.kind === 'LEAVER').length).toBe(4);
  });

  it('a snapshot paused by a shutdown mid-apply resumes after the last committed batch: no event lost or repeated', async () => {
    h = await HrIngestHarness.start({ SNAPSHOT_BATCH_SIZE: '50', SNAPSHOT_APPLY_CONCURRENCY: '1' });
    expect((await h.request('PUT', '/v1/sources/big/csv-mappings/default', { raw: MAPPING, contentType: 'application/yaml' })).status).toBe(200);
    const ids = Array.from({ length: 1500 }, (_, i) => `B${i}`);
    const up = await h.request('POST', '/v1/sources/big/snapshots', { raw: csv(ids), contentType: 'text/csv' });
    const id = up.json['snapshotId'] as string;
    await waitFor(async () => (await h!.db.query<{ n: number }>('SELECT count(*)::int AS n FROM hr_ingest.persons'))[0]!.n >= 100, { what: 'some batches applied' });
    await h.restart({}, async () => {
      const [s] = await h!.db.query<{ status: string; n: number }>(`SELECT s.status, (SELECT count(*)::int FROM hr_ingest.persons) AS n FROM hr_ingest.snapshots s WHERE id = $1`, [id]);
      expect(s!.status).toBe('applying');
      expect(s!.n).toBeLessThan(1500);
    });
    await waitFor(async () => (await h!.request('GET', `/v1/snapshots/${id}`)).json['status'] === 'applied', { timeoutMs: 60_000, what: 'snapshot applied after the restart' });
    await h.settle();
    const joiners = h.events.filter((e) => e.value.kind === 'JOINER' && e.value.source.batchId === id);
    expect(joiners).toHaveLength(1500);
    expect(new Set(joiners.map((e) => e.value.source.workerId)).size).toBe(1500);
    expect((await h.request('GET', `/v1/snapshots/${id}`)).json['events']).toEqual({ JOINER: 1500 });
  });

  it('a worker created through another input while its snapshot applies is joined once and then updated', async () => {
    h = await HrIngestHarness.start({ SNAPSHOT_BATCH_SIZE: '50', SNAPSHOT_APPLY_CONCURRENCY: '1' });
    expect((await h.request('PUT', '/v1/sources/race/csv-mappings/default', { raw: MAPPING, contentType: 'application/yaml' })).status).toBe(200);
    const ids = Array.from({ length: 1500 }, (_, i) => `C${i}`);
    const id = (await h.request('POST', '/v1/sources/race/snapshots', { raw: csv(ids, 'Ops'), contentType: 'text/csv' })).json['snapshotId'] as string;
    await waitFor(async () => (await h!.db.query<{ n: number }>("SELECT count(*)::int AS n FROM hr_ingest.persons WHERE source = 'race'"))[0]!.n > 0, { what: 'the apply started' });
    const put = await h.request('PUT', '/v1/sources/race/workers/C1499', { body: { attributes: { status: 'active', department: 'Sales' } } });
    expect(put.json).toMatchObject({ status: 'created', events: [{ kind: 'JOINER' }] });
    await waitFor(async () => (await h!.request('GET', `/v1/snapshots/${id}`)).json['status'] === 'applied', { timeoutMs: 60_000, what: 'snapshot applied' });
    await h.settle();
    const c1499 = h.events.filter((e) => e.value.source.workerId === 'C1499').map((e) => `${e.value.kind}:${e.value.source.channel}`);
    expect(c1499).toEqual(['JOINER:API', 'MOVER:CSV']);
    expect(h.events.filter((e) => e.value.source.batchId === id && e.value.kind === 'JOINER')).toHaveLength(1499);
  });

  it('two replicas share the snapshot queue: each snapshot is applied once, in upload order per source', async () => {
    h = await HrIngestHarness.start();
    const other = await h.replica();
    for (const src of ['s1', 's2']) expect((await h.request('PUT', `/v1/sources/${src}/csv-mappings/default`, { raw: MAPPING, contentType: 'application/yaml' })).status).toBe(200);
    const ids = Array.from({ length: 200 }, (_, i) => `R${i}`);
    const uploads: string[] = [];
    for (const [src, dept] of [['s1', 'A'], ['s2', 'A'], ['s1', 'B']] as const) {
      const res = await fetch(`${uploads.length % 2 ? other.url : h.url}/v1/sources/${src}/snapshots`, { method: 'POST', headers: { authorization: `Bearer ${h.token}`, 'content-type': 'text/csv' }, body: csv(ids, dept) });
      uploads.push(((await res.json()) as { snapshotId: string }).snapshotId);
    }
    for (const u of uploads) await waitFor(async () => (await h!.request('GET', `/v1/snapshots/${u}`)).json['status'] === 'applied', { timeoutMs: 60_000, what: `snapshot ${u}` });
    await h.settle();
    const kinds = (batch: string) => h!.events.filter((e) => e.value.source.batchId === batch).map((e) => e.value.kind);
    expect(kinds(uploads[0]!)).toEqual(ids.map(() => 'JOINER'));
    expect(kinds(uploads[1]!)).toEqual(ids.map(() => 'JOINER'));
    expect(kinds(uploads[2]!)).toEqual(ids.map(() => 'MOVER'));
  });
});
