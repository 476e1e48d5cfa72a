import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { waitFor } from '@provisio/testing';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../src/cli.js';
import { HrIngestHarness } from './harness.js';

const MAPPING = `# Workday-style export
version: 1
snapshot: { mode: full, absentWorkers: leaver }
columns:
  workerId: WorkerID
  status: WorkerStatus
  workerType: WorkerType
  userName: UserID
  givenName: FirstName
  familyName: LastName
  managerWorkerId: ManagerID
  hireDate: { column: HireDate, format: MM/DD/YYYY }
  onLeave: OnLeave
  department: Department
  division: Division
  costCenter: CostCenter
  company: Company
  location: Location
  jobTitle: JobTitle
  countryCode: CountryCode
values:
  WorkerStatus: { Active: active, Terminated: terminated, "Leave of Absence": leave }
  WorkerType: { EMP: employee, CTR: contractor }
  OnLeave: { Y: true, N: false }
`;
const HEADER = 'WorkerID,WorkerStatus,WorkerType,UserID,FirstName,LastName,ManagerID,HireDate,OnLeave,Department,Division,CostCenter,Company,Location,JobTitle,CountryCode';

interface Row {
  id: string;
  status?: string;
  type?: string;
  manager?: string;
  hire?: string;
  dept?: string;
}
const line = (r: Row) => [r.id, r.status ?? 'Active', r.type ?? 'EMP', `u${r.id}`, `First${r.id}`, 'Last', r.manager ?? '', r.hire ?? '01/15/2020', 'N', r.dept ?? 'R&D', 'Eng', 'CC1', 'ACME', 'Berlin', 'Engineer', 'DE'].join(',');
const csv = (rows: (Row | string)[]) => [HEADER, ...rows.map((r) => (typeof r === 'string' ? r : line(r)))].join('\n') + '\n';

interface SnapshotView {
  snapshotId: string;
  status: string;
  rows: { total: number; rejected: number; warnings: number };
  events: Record<string, number>;
  hold: { reason: string; leavers: number; population: number } | null;
  planned: Record<string, number> | null;
}

describe('CSV snapshots (upload endpoint and CLI) → hr.lifecycle on the real broker', () => {
  let h: HrIngestHarness;
  let dir: string;

  beforeAll(async () => {
    h = await HrIngestHarness.start({ CSV_MAX_UPLOAD_BYTES: '200000', SNAPSHOT_BATCH_SIZE: '3' });
    dir = await mkdtemp(join(tmpdir(), 'hr-csv-'));
    const m = await h.request('PUT', '/v1/sources/workday/csv-mappings/default', { raw: MAPPING, contentType: 'application/yaml' });
    expect(m.status).toBe(200);
  });
  afterAll(async () => {
    await h?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const upload = (body: string, query = '', contentType = 'text/csv', source = 'workday') => h.request('POST', `/v1/sources/${source}/snapshots${query}`, { raw: body, contentType });

  async function finished(id: string): Promise<SnapshotView> {
    return waitFor(
      async () => {
        const s = (await h.request('GET', `/v1/snapshots/${id}`, { token: h.readToken })).json as unknown as SnapshotView;
        return ['applied', 'held', 'failed', 'discarded'].includes(s.status) ? s : undefined;
      },
      { timeoutMs: 30_000, what: `snapshot ${id} to finish` },
    );
  }

  const base: Row[] = [
    { id: 'W1', manager: 'W9' },
    { id: 'W2', manager: 'W9' },
    { id: 'W3' },
    { id: 'W4', type: 'CTR' },
    { id: 'W5' },
    { id: 'W6' },
    { id: 'W7' },
    { id: 'W8' },
    { id: 'W9' },
    { id: 'W10', hire: '12/01/2099' },
  ];

  it('stages, rejects bad rows with reasons, applies the rest in batches; managers later in the file resolve at once', async () => {
    const res = await upload(
      csv([
        ...base,
        'W11,Active,EMP,u11,A,B,,02/30/2020,N,R&D,Eng,CC1,ACME,Berlin,Engineer,DE',
        'W12,Retired,EMP,u12,A,B,,01/01/2020,N,R&D,Eng,CC1,ACME,Berlin,Engineer,DE',
        ',Active,EMP,u13,A,B,,01/01/2020,N,R&D,Eng,CC1,ACME,Berlin,Engineer,DE',
        line({ id: 'W14' }),
        line({ id: 'W14', dept: 'Sales' }),
        'W15,Active,EMP,u15,A,B,,01/01/2020,maybe,R&D,Eng,CC1,ACME,Berlin,Engineer,Germany',
        'W16,Active,EMP',
      ]),
      '?asOf=2025-01-01T00:00:00Z&fileName=workers.csv',
    );
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ status: 'staged', rowsTotal: 17, rowsRejected: 7, mode: 'full' });
    const s = await finished(res.json['snapshotId'] as string);
    expect(s).toMatchObject({ status: 'applied', events: { JOINER: 10 } });

    const rej = (await h.request('GET', `/v1/snapshots/${s.snapshotId}/rejections`, { token: h.readToken })).json['rows'] as { line: number; workerId: string | null; errors: { field: string; value?: string; rule: string }[] }[];
    const byLine = Object.fromEntries(rej.map((r) => [r.line, r.errors.map((e) => `${e.field}|${e.value ?? ''}|${e.rule}`)]));
    expect(byLine).toEqual({
      12: ['HireDate|02/30/2020|date-format:MM/DD/YYYY'],
      13: ['WorkerStatus|Retired|invalid_value'],
      14: ['WorkerID||required'],
      15: ['workerId|W14|unique-in-batch'],
      16: ['workerId|W14|unique-in-batch'],
      17: ['OnLeave|maybe|boolean', 'CountryCode|Germany|iso-3166-1'],
      18: ['(row)|3 cells|column-count'],
    });

    await h.settle();
    const joiners = h.events.map((e) => e.value).filter((e) => e.source.batchId === s.snapshotId);
    expect(joiners).toHaveLength(10);
    const w9 = joiners.find((e) => e.source.workerId === 'W9')!;
    const w1 = joiners.find((e) => e.source.workerId === 'W1')!;
    expect(w1.attributes.managerPersonId).toBe(w9.personId);
    expect(w1).toMatchObject({ kind: 'JOINER', stage: 'EFFECTIVE', timeZone: 'UTC', source: expect.objectContaining({ channel: 'CSV', sourceTimestamp: Date.parse('2025-01-01T00:00:00Z') }) });
    expect(w1.attributes).toMatchObject({ status: 'active', hireDate: '2020-01-15', workerType: 'employee', onLeave: false, countryCode: 'DE', department: 'R&D' });
    expect(joiners.find((e) => e.source.workerId === 'W10')).toMatchObject({ stage: 'PRE_HIRE', effectiveAt: Date.parse('2099-12-01T00:00:00Z') });
  });

  it('emits nothing for the same file again, and only the differences for a changed one', async () => {
    const again = await finished((await upload(csv(base))).json['snapshotId'] as string);
    expect(again).toMatchObject({ status: 'applied', events: {} });
    const changed = base.map((r) => (r.id === 'W3' ? { ...r, dept: 'Sales' } : r.id === 'W4' ? { ...r, type: 'EMP' } : r)).filter((r) => r.id !== 'W8');
    const s = await finished((await upload(csv(changed))).json['snapshotId'] as string);
    expect(s).toMatchObject({ status: 'applied', events: { MOVER: 1, CONVERSION: 1, LEAVER: 1 } });
    await h.settle();
    const leaver = h.events.map((e) => e.value).find((e) => e.source.batchId === s.snapshotId && e.kind === 'LEAVER')!;
    expect(leaver).toMatchObject({ reason: 'absent-from-snapshot', source: expect.objectContaining({ workerId: 'W8' }) });
  });

  it('refuses rows older than the stored state (asOf) as stale, and applies a delta file without absentees', async () => {
    const stale = await finished((await upload(csv([{ id: 'W5', dept: 'Legal' }]), '?mode=delta&asOf=2024-06-01T00:00:00Z')).json['snapshotId'] as string);
    expect(stale).toMatchObject({ status: 'applied', events: {}, rows: { total: 1, rejected: 1 } });
    const rej = (await h.request('GET', `/v1/snapshots/${stale.snapshotId}/rejections`, { token: h.readToken })).json['rows'] as { workerId: string; errors: { rule: string }[] }[];
    expect(rej).toEqual([expect.objectContaining({ workerId: 'W5', errors: [expect.objectContaining({ field: 'sourceTimestamp', rule: 'not-older-than-stored' })] })]);
    const fresh = await finished((await upload(csv([{ id: 'W5', dept: 'Legal' }]), '?mode=delta&asOf=2025-06-01T00:00:00Z')).json['snapshotId'] as string);
    expect(fresh).toMatchObject({ status: 'applied', events: { MOVER: 1 } });
  });

  it('holds a snapshot that would make too many leavers, lists them, and applies or drops it on decision', async () => {
    await h.settle();
    const kept = base.filter((r) => ['W1', 'W2', 'W9', 'W10'].includes(r.id) || r.id === 'W3');
    const first = await finished((await upload(csv(kept))).json['snapshotId'] as string);
    expect(first.status).toBe('held');
    expect(first.hold).toMatchObject({ leavers: 4, population: 9 });
    expect(first.hold!.reason).toContain('44.4 %');
    const leavers = (await h.request('GET', `/v1/snapshots/${first.snapshotId}/leavers`, { token: h.readToken })).json['leavers'] as { workerId: string; reason: string; userName: string }[];
    expect(leavers.map((l) => l.workerId).sort()).toEqual(['W4', 'W5', 'W6', 'W7']);
    expect(leavers[0]).toMatchObject({ reason: 'absent-from-snapshot', userName: expect.stringMatching(/^uW/) });
    const eventsBefore = h.events.length;
    expect((await h.request('POST', `/v1/snapshots/${first.snapshotId}/discard`)).json).toMatchObject({ status: 'discarded' });
    expect((await h.request('POST', `/v1/snapshots/${first.snapshotId}/confirm`)).status).toBe(409);
    await h.settle();
    expect(h.events.length).toBe(eventsBefore);

    const second = await finished((await upload(csv(kept))).json['snapshotId'] as string);
    expect(second.status).toBe('held');
    expect((await h.request('POST', `/v1/snapshots/${second.snapshotId}/confirm`)).status).toBe(200);
    expect(await finished(second.snapshotId)).toMatchObject({ status: 'applied', events: { LEAVER: 4 } });
  });

  it('refuses unreadable uploads whole, with their 4xx, and stores nothing', async () => {
    await h.settle();
    const persons = await h.count('persons');
    const events = h.events.length;
    const bad = async (body: string, status: number, code: string, query = '', type?: string) => {
      const r = await upload(body, query, type);
      expect({ status: r.status, code: r.json?.['code'] }).toEqual({ status, code });
      return r;
    };
    const header = await bad('WorkerID,Status\nW1,Active\n', 400, 'CSV_HEADER_MISMATCH');
    expect(header.json['details']).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'columns.userName', value: 'UserID', rule: 'column-in-header' })]));
    await bad(csv([{ id: 'W20' }]) + 'W21,"Active,EMP\n', 400, 'CSV_SYNTAX');
    await bad(csv([{ id: 'W22' }]), 415, 'UNSUPPORTED_MEDIA_TYPE', '', 'application/octet-stream');
    await bad(csv([{ id: 'W23' }]), 400, 'UNKNOWN_MAPPING', '?mapping=nope');
    await bad(csv([{ id: 'W24' }]), 400, 'INVALID_INPUT', '?asOf=yesterday');
    await bad(csv(Array.from({ length: 2500 }, (_, i) => ({ id: `X${i}` }))), 413, 'PAYLOAD_TOO_LARGE');
    expect(await h.count('snapshot_rows WHERE snapshot_id IN (SELECT id FROM hr_ingest.snapshots WHERE status = \'failed\')')).toBe(0);
    const mappingType = await h.request('PUT', '/v1/sources/workday/csv-mappings/typed', { raw: MAPPING, contentType: 'application/octet-stream' });
    expect({ status: mappingType.status, code: mappingType.json?.['code'] }).toEqual({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
    const mapping = await h.request('PUT', '/v1/sources/workday/csv-mappings/broken', { raw: 'columns:\n  department: Dept\n  shoeSize: Shoe\n', contentType: 'application/yaml' });
    expect(mapping.status).toBe(400);
    expect(mapping.json['details']).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'columns.shoeSize', rule: 'known-attribute' }), expect.objectContaining({ rule: 'required' })]));
    await h.settle();
    expect({ persons: await h.count('persons'), events: h.events.length }).toEqual({ persons, events });
  });

  it('the CLI validates a file locally and imports it through the running service', async () => {
    const mappingFile = join(dir, 'mapping.yaml');
    const good = join(dir, 'good.csv');
    const bad = join(dir, 'bad.csv');
    await writeFile(mappingFile, MAPPING);
    await writeFile(good, csv([{ id: 'C1' }, { id: 'C2', manager: 'C1' }]));
    await writeFile(bad, csv([{ id: 'C1' }, { id: 'C1' }, 'C3,Active,EMP,u,A,B,,13/13/2020,N,R&D,Eng,CC1,ACME,Berlin,Engineer,DE']));
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) };
    expect(await runCli(['validate', '--mapping', mappingFile, good], io)).toBe(0);
    expect(await runCli(['validate', '--mapping', mappingFile, bad], io)).toBe(1);
    expect(out.join('\n')).toContain('HireDate: hireDate: expected a real date written as MM/DD/YYYY');
    expect(out.join('\n')).toContain('worker C1: appears 2 times');
    out.length = 0;
    const code = await runCli(['import', '--url', h.url, '--token', h.token, '--source', 'cli-hr', '--mapping', mappingFile, good], io);
    expect({ code, out: out.join('\n') }).toEqual({ code: 0, out: expect.stringMatching(/snapshot .*: applied[\s\S]*events: JOINER 2/) });
    expect(await runCli(['import', '--url', h.url, '--token', 'not-a-token', '--source', 'cli-hr', '--mapping', mappingFile, good], io)).toBe(1);
  });
});
