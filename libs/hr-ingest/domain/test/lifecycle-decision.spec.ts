import { describe, expect, it } from '@jest/globals';
import { DEFAULT_POLICY, HrLedger, decide, parseHrAttributes, parseTimeZoneSettings, toAlpha2, type DecideContext, type HrAttributesInput, type LifecyclePolicy, type PersonState, type WorkerRecord } from '../src/index.js';

const NOW = Date.parse('2025-06-15T12:00:00Z');
const DAY = 86_400_000;

function record(workerId: string, attributes: HrAttributesInput, extra: Partial<WorkerRecord> = {}): WorkerRecord {
  return { source: 'hr', workerId, attributes, ...extra };
}

function ctx(now = NOW, policy: LifecyclePolicy = DEFAULT_POLICY, managers: Record<string, string> = {}): DecideContext {
  let n = 0;
  return { now, policy, resolveManager: (w) => managers[w], newPersonId: () => `p-${++n}` };
}

function applied(prev: PersonState | undefined, attributes: HrAttributesInput, now = NOW, extra: Partial<WorkerRecord> = {}) {
  return decide(prev, { type: 'record', record: record('W1', attributes, extra) }, ctx(now));
}

const active = { status: 'active', userName: 'ada', department: 'R&D', workerType: 'employee', hireDate: '2020-01-01' } as const;

describe('the differ', () => {
  it('makes a new active worker a JOINER effective at the hire date', () => {
    const d = applied(undefined, active);
    expect(d).toMatchObject({ outcome: 'created', write: 'insert', event: { kind: 'JOINER', stage: 'EFFECTIVE', reason: 'hr-change', timeZone: 'UTC', previousAttributes: null } });
    expect(d.event!.effectiveAt).toBe(Date.parse('2020-01-01T00:00:00Z'));
    expect(d.event!.attributes).toMatchObject({ status: 'active', userName: 'ada', department: 'R&D' });
    expect(d.state).toMatchObject({ personId: 'p-1', phase: 'active', joined: true, version: 1 });
  });

  it('emits nothing for the same input twice, and nothing for a record that repeats the stored values', () => {
    const first = applied(undefined, active);
    expect(applied(first.state, active)).toMatchObject({ outcome: 'unchanged', write: 'none', event: undefined });
    expect(applied(first.state, { department: 'R&D' })).toMatchObject({ outcome: 'unchanged', event: undefined });
  });

  it('keeps absent attributes, clears attributes sent as null, and never disables for a partial payload', () => {
    const first = applied(undefined, { ...active, jobTitle: 'Engineer', custom: { 'x:badge': '7' } }).state!;
    const partial = applied(first, { givenName: 'Ada' });
    expect(partial.event).toMatchObject({ kind: 'UPDATE', changedAttributes: ['givenName'] });
    expect(partial.state!.attributes).toMatchObject({ jobTitle: 'Engineer', department: 'R&D', status: 'active', custom: { 'x:badge': '7' } });
    const cleared = applied(partial.state, { jobTitle: null, custom: { 'x:badge': null } });
    expect(cleared.event).toMatchObject({ kind: 'MOVER', changedAttributes: ['custom.x:badge', 'jobTitle'] });
    expect(cleared.state!.attributes.jobTitle).toBeNull();
    expect(cleared.state!.attributes.custom).toEqual({});
  });

  it('tells MOVER (configurable attributes), UPDATE and CONVERSION apart', () => {
    const base = applied(undefined, active).state!;
    expect(applied(base, { department: 'Sales' }).event).toMatchObject({ kind: 'MOVER', changedAttributes: ['department'], previousAttributes: expect.objectContaining({ department: 'R&D' }) });
    expect(applied(base, { displayName: 'Ada L.' }).event).toMatchObject({ kind: 'UPDATE', changedAttributes: ['displayName'] });
    expect(applied(base, { workerType: 'contractor', department: 'Sales' }).event).toMatchObject({ kind: 'CONVERSION', changedAttributes: ['department', 'workerType'] });
    const onlyTitle: LifecyclePolicy = { ...DEFAULT_POLICY, moverAttributes: new Set(['jobTitle']) };
    expect(decide(base, { type: 'record', record: record('W1', { department: 'Sales' }) }, ctx(NOW, onlyTitle)).event?.kind).toBe('UPDATE');
  });

  it('makes a terminated status a LEAVER, and a return a REHIRE with the same personId', () => {
    const base = applied(undefined, active).state!;
    const leaver = applied(base, { status: 'terminated', terminationDate: '2025-06-01' });
    expect(leaver.event).toMatchObject({ kind: 'LEAVER', reason: 'terminated-in-source', effectiveAt: Date.parse('2025-06-02T00:00:00Z') });
    expect(leaver.event!.attributes.status).toBe('terminated');
    const back = applied(leaver.state, { status: 'active', hireDate: '2025-06-10' });
    expect(back.event).toMatchObject({ kind: 'REHIRE', stage: 'EFFECTIVE', effectiveAt: Date.parse('2025-06-10T00:00:00Z') });
    expect(back.state!.personId).toBe(base.personId);
  });

  it('announces a future start as a PRE_HIRE joiner and the start itself when the clock reaches it, in the worker zone', () => {
    const policy: LifecyclePolicy = { ...DEFAULT_POLICY, timeZones: parseTimeZoneSettings({ countries: { JP: 'Asia/Tokyo' } }).settings };
    const c = ctx(NOW, policy);
    const d = decide(undefined, { type: 'record', record: record('W1', { status: 'active', hireDate: '2025-07-01', countryCode: 'JP' }) }, c);
    const start = Date.parse('2025-06-30T15:00:00Z');
    expect(d.event).toMatchObject({ kind: 'JOINER', stage: 'PRE_HIRE', effectiveAt: start, timeZone: 'Asia/Tokyo' });
    expect(d.event!.attributes.status).toBe('pre-hire');
    expect(d.nextTransitionAt).toBe(start);
    const early = decide(d.state, { type: 'clock' }, { ...c, now: start - 1 });
    expect(early.event).toBeUndefined();
    const started = decide(d.state, { type: 'clock' }, { ...c, now: start + 1000 });
    expect(started.event).toMatchObject({ kind: 'JOINER', stage: 'EFFECTIVE', effectiveAt: start, reason: 'start-date-reached', changedAttributes: ['status'] });
    expect(started.nextTransitionAt).toBeNull();
  });

  it('schedules a future termination and emits the leaver at its effective time, not before', () => {
    const base = applied(undefined, active).state!;
    const notice = applied(base, { terminationDate: '2025-06-30' });
    expect(notice.event).toMatchObject({ kind: 'UPDATE', changedAttributes: ['terminationDate'] });
    expect(notice.state!.phase).toBe('active');
    const end = Date.parse('2025-07-01T00:00:00Z');
    expect(notice.nextTransitionAt).toBe(end);
    const fired = decide(notice.state, { type: 'clock' }, ctx(end + 5));
    expect(fired.event).toMatchObject({ kind: 'LEAVER', reason: 'termination-date-reached', effectiveAt: end });
    // A status of terminated with a future date also waits for the date.
    expect(applied(base, { status: 'terminated', terminationDate: '2025-12-31' }).state!.phase).toBe('active');
  });

  it('refuses stale input (older sequence or source timestamp) and keeps the newer state', () => {
    const base = applied(undefined, active, NOW, { sequence: 5, sourceTimestamp: NOW - DAY }).state!;
    const older = applied(base, { department: 'Old' }, NOW, { sequence: 4 });
    expect(older).toMatchObject({ outcome: 'stale', write: 'none', event: undefined, errors: [expect.objectContaining({ field: 'sequence', rule: 'not-older-than-stored', value: '4' })] });
    const olderTime = applied(base, { department: 'Old' }, NOW, { sourceTimestamp: NOW - 2 * DAY });
    expect(olderTime.errors[0]).toMatchObject({ field: 'sourceTimestamp', rule: 'not-older-than-stored' });
    expect(applied(base, { department: 'New' }, NOW, { sequence: 5 }).event?.kind).toBe('MOVER');
  });

  it('resolves managers to personIds, reports an unknown manager, and treats a self-reference as none', () => {
    const c = ctx(NOW, DEFAULT_POLICY, { M1: 'p-boss' });
    const d = decide(undefined, { type: 'record', record: record('W1', active, { managerWorkerId: 'M1' }) }, c);
    expect(d.state!.attributes.managerPersonId).toBe('p-boss');
    const unknown = decide(undefined, { type: 'record', record: record('W2', active, { managerWorkerId: 'M9' }) }, c);
    expect(unknown.state).toMatchObject({ managerWorkerId: 'M9', attributes: expect.objectContaining({ managerPersonId: null }) });
    expect(unknown.warnings).toEqual([expect.objectContaining({ field: 'managerWorkerId', value: 'M9', rule: 'manager-known' })]);
    const later = decide(unknown.state, { type: 'resolve-manager' }, ctx(NOW, DEFAULT_POLICY, { M9: 'p-m9' }));
    expect(later.event).toMatchObject({ kind: 'MOVER', reason: 'manager-resolved', changedAttributes: ['managerPersonId'] });
    const self = decide(undefined, { type: 'record', record: record('CEO', active, { managerWorkerId: 'CEO' }) }, c);
    expect(self.warnings).toEqual([]);
    expect(self.state!.attributes.managerPersonId).toBeNull();
  });

  it('stores a worker first seen as terminated without announcing anyone, and a later start is a JOINER', () => {
    const d = applied(undefined, { status: 'terminated', terminationDate: '2019-01-01', hireDate: '2015-01-01' });
    expect(d).toMatchObject({ outcome: 'created', event: undefined, state: expect.objectContaining({ phase: 'terminated', joined: false }) });
    expect(applied(d.state, { givenName: 'X' }).event).toBeUndefined();
    expect(applied(d.state, { status: 'active', hireDate: '2025-01-01' }).event).toMatchObject({ kind: 'JOINER' });
  });

  it('makes a worker absent from a full snapshot a LEAVER once; reappearing is a REHIRE', () => {
    const base = applied(undefined, active).state!;
    const gone = decide(base, { type: 'absent' }, ctx());
    expect(gone.event).toMatchObject({ kind: 'LEAVER', reason: 'absent-from-snapshot', effectiveAt: NOW });
    expect(decide(gone.state, { type: 'absent' }, ctx(NOW + DAY)).event).toBeUndefined();
    expect(applied(gone.state, active, NOW + DAY).event).toMatchObject({ kind: 'REHIRE' });
  });

  it('marks leave as status leave (UPDATE), not as a leaver', () => {
    const base = applied(undefined, active).state!;
    const leave = applied(base, { onLeave: true });
    expect(leave.event).toMatchObject({ kind: 'UPDATE', changedAttributes: ['onLeave', 'status'] });
    expect(leave.event!.attributes.status).toBe('leave');
    expect(leave.state!.phase).toBe('active');
  });
});

describe('the differ with out-of-order and stale input', () => {
  const T = (h: number) => Date.parse('2025-06-01T00:00:00Z') + h * 3_600_000;

  it('counts a future-dated termination as leaving (what the brake counts), like an immediate one', () => {
    const base = applied(undefined, active).state!;
    const future = applied(base, { status: 'terminated', terminationDate: '2025-06-30' });
    expect(future.event).toMatchObject({ kind: 'UPDATE' });
    expect(future.state!.phase).toBe('active');
    expect(future.leaving).toEqual({ at: Date.parse('2025-07-01T00:00:00Z'), reason: 'termination-scheduled' });
    expect(applied(base, { terminationDate: '2025-06-30' }).leaving).toMatchObject({ reason: 'termination-scheduled' });
    expect(applied(base, { status: 'terminated' }).leaving).toEqual({ at: NOW, reason: 'terminated-in-source' });
    // Already scheduled, or a new worker with a fixed end: nobody working newly leaves.
    expect(applied(future.state, { terminationDate: '2025-07-15' }).leaving).toBeUndefined();
    expect(applied(undefined, { ...active, terminationDate: '2025-12-31' }).leaving).toBeUndefined();
    expect(applied(base, { department: 'Sales' }).leaving).toBeUndefined();
  });

  it('makes no leaver of a worker absent from a snapshot exported before a newer record saw them, and dates the leaver by the export', () => {
    const base = applied(undefined, active, NOW, { sourceTimestamp: T(10) }).state!;
    const older = decide(base, { type: 'absent', asOf: T(9) }, ctx());
    expect(older).toMatchObject({ outcome: 'unchanged', write: 'none', event: undefined, leaving: undefined });
    expect(older.state!.phase).toBe('active');
    const newer = decide(base, { type: 'absent', asOf: T(11) }, ctx());
    expect(newer.event).toMatchObject({ kind: 'LEAVER', reason: 'absent-from-snapshot', effectiveAt: T(11) });
    expect(newer.state!.removal).toMatchObject({ at: T(11), stamp: { ts: T(11), seq: null } });
    // An export from the same instant as the last record still counts.
    expect(decide(base, { type: 'absent', asOf: T(10) }, ctx()).event?.kind).toBe('LEAVER');
  });

  it('never rehires a leaver with a record older than the termination; a newer one is a REHIRE dated now, not at the old hire date', () => {
    const base = applied(undefined, active, NOW, { sourceTimestamp: T(1) }).state!;
    const gone = decide(base, { type: 'absent', asOf: T(5) }, ctx()).state!;
    const stale = applied(gone, { department: 'Sales' }, NOW + DAY, { sourceTimestamp: T(3) });
    expect(stale.event?.kind).not.toBe('REHIRE');
    expect(stale.state!.phase).toBe('terminated');
    expect(stale.state!.attributes.department).toBe('Sales');
    const back = applied(stale.state, { status: 'active' }, NOW + DAY, { sourceTimestamp: T(6) });
    expect(back.event).toMatchObject({ kind: 'REHIRE', stage: 'EFFECTIVE', effectiveAt: NOW + DAY });

    // Terminated by status at T5: an older "active" is superseded and refused.
    const left = applied(base, { status: 'terminated' }, NOW, { sourceTimestamp: T(5) }).state!;
    expect(applied(left, { status: 'active' }, NOW, { sourceTimestamp: T(3) })).toMatchObject({ outcome: 'stale', event: undefined });
    // Terminated by a date set at T5: an older record moving the hire date past it cannot bring them back.
    const ended = applied(base, { terminationDate: '2025-06-01' }, NOW, { sourceTimestamp: T(5) }).state!;
    expect(ended.phase).toBe('terminated');
    const revive = applied(ended, { hireDate: '2025-06-10' }, NOW, { sourceTimestamp: T(3) });
    expect(revive).toMatchObject({ outcome: 'stale', event: undefined, errors: [expect.objectContaining({ rule: 'not-older-than-termination' })] });
    const rehire = applied(ended, { hireDate: '2025-06-10' }, NOW, { sourceTimestamp: T(6) });
    expect(rehire.event).toMatchObject({ kind: 'REHIRE', effectiveAt: Date.parse('2025-06-10T00:00:00Z') });
  });

  it('keeps per-attribute stamps: an older record applies only the attributes no newer record set', () => {
    const base = applied(undefined, active, NOW, { sourceTimestamp: T(1) }).state!;
    const dept = applied(base, { department: 'Sales' }, NOW, { sourceTimestamp: T(5) }).state!;
    const late = applied(dept, { department: 'Legal', jobTitle: 'Lead' }, NOW, { sourceTimestamp: T(3) });
    expect(late).toMatchObject({ outcome: 'changed', event: { kind: 'MOVER', changedAttributes: ['jobTitle'] } });
    expect(late.state!.attributes).toMatchObject({ department: 'Sales', jobTitle: 'Lead' });
    expect(late.warnings).toEqual([expect.objectContaining({ field: 'department', rule: 'not-older-than-stored' })]);
    expect(late.state!.sourceTimestamp).toBe(T(5));
    // Every attribute it carries is newer in store: refused whole.
    expect(applied(late.state, { department: 'Legal' }, NOW, { sourceTimestamp: T(4) })).toMatchObject({ outcome: 'stale', write: 'none' });
  });

  it('advances the watermark and the stamps on a no-op record, so an older change that arrives later does not overwrite it', () => {
    const base = applied(undefined, active, NOW, { sourceTimestamp: T(1) }).state!;
    const same = applied(base, { department: 'R&D' }, NOW, { sourceTimestamp: T(5) });
    expect(same).toMatchObject({ outcome: 'unchanged', write: 'update', event: undefined });
    expect(same.state).toMatchObject({ sourceTimestamp: T(5), version: base.version });
    const older = applied(same.state, { department: 'Sales' }, NOW, { sourceTimestamp: T(3) });
    expect(older).toMatchObject({ outcome: 'stale', event: undefined });
    expect(applied(same.state, { department: 'R&D' }, NOW, { sourceTimestamp: T(5) })).toMatchObject({ outcome: 'unchanged', write: 'none' });
  });
});

describe('HrLedger batches', () => {
  it('rejects every record of a worker id that occurs twice and processes the others', () => {
    const ledger = new HrLedger(DEFAULT_POLICY);
    const r = ledger.apply('hr', [record('A', active), record('B', active), record('A', { ...active, department: 'X' })], NOW, { full: true });
    expect(r.rejected).toEqual([
      { workerId: 'A', errors: [expect.objectContaining({ rule: 'unique-in-batch', field: 'workerId', value: 'A' })] },
      { workerId: 'A', errors: [expect.objectContaining({ rule: 'unique-in-batch' })] },
    ]);
    expect(r.events.map((e) => `${e.workerId}:${e.kind}`)).toEqual(['B:JOINER']);
  });

  it('resolves a manager who comes later in the same snapshot, and reports waiting for one who comes later', () => {
    const ledger = new HrLedger(DEFAULT_POLICY);
    const r = ledger.apply('hr', [record('E', active, { managerWorkerId: 'M' }), record('M', active)], NOW, { full: true });
    expect(r.events.find((e) => e.workerId === 'E')!.attributes.managerPersonId).toBe(ledger.get('hr', 'M')!.personId);
    const r2 = ledger.apply('hr', [record('F', active, { managerWorkerId: 'N' })], NOW);
    expect(r2.warnings).toHaveLength(1);
    const r3 = ledger.apply('hr', [record('N', active)], NOW);
    expect(r3.events.map((e) => `${e.workerId}:${e.kind}:${e.reason}`)).toEqual(['N:JOINER:hr-change', 'F:MOVER:manager-resolved']);
  });

  it('does not treat a rejected row as absent from a full snapshot', () => {
    const ledger = new HrLedger(DEFAULT_POLICY);
    ledger.apply('hr', [record('A', active), record('B', active)], NOW, { full: true });
    const r = ledger.apply('hr', [record('A', active), record('A', active), record('B', active)], NOW + 1, { full: true });
    expect(r.events).toEqual([]);
  });
});

describe('country codes', () => {
  it('accepts ISO 3166-1 alpha-2 and alpha-3 in any case, stores alpha-2, and names the rule otherwise', () => {
    expect(toAlpha2('de')).toBe('DE');
    expect(toAlpha2(' DEU ')).toBe('DE');
    expect(toAlpha2('gbr')).toBe('GB');
    expect(toAlpha2('USA')).toBe('US');
    expect(toAlpha2('XX')).toBeUndefined();
    expect(toAlpha2('XYZ')).toBeUndefined();
    expect(toAlpha2('Germany')).toBeUndefined();
    expect(parseHrAttributes({ countryCode: 'che' })).toEqual({ ok: true, value: { countryCode: 'CH' } });
    expect(parseHrAttributes({ countryCode: 'Germany' })).toEqual({
      ok: false,
      errors: [expect.objectContaining({ field: 'attributes.countryCode', value: 'Germany', rule: 'iso-3166-1', message: expect.stringContaining('alpha-3') })],
    });
    expect(parseHrAttributes({ countryCode: 'ZZ' })).toMatchObject({ ok: false, errors: [expect.objectContaining({ rule: 'iso-3166-1' })] });
  });
});
