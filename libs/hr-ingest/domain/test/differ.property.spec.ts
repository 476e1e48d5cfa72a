import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { HrAttributes } from '@provisio/contracts';
import {
  DEFAULT_POLICY,
  HrLedger,
  parseTimeZoneSettings,
  phaseAt,
  viewOf,
  zoneFor,
  type HrAttributesInput,
  type LedgerEvent,
  type LifecyclePolicy,
  type WorkerRecord,
} from '../src/index.js';

// Random sequences of full snapshots, deltas and passing time against the ledger (the same pure
// decisions the service makes), checking what must hold whatever HR sends.

// FC_RUNS=20000 for a longer search.
const RUNS = Number(process.env['FC_RUNS'] ?? 400);
const START = Date.parse('2025-06-15T12:00:00Z');
const DAY = 86_400_000;
const WORKERS = ['A', 'B', 'C', 'D', 'E', 'F'];
const policy: LifecyclePolicy = {
  ...DEFAULT_POLICY,
  timeZones: parseTimeZoneSettings({ default: 'Europe/Berlin', locations: { Tokyo: 'Asia/Tokyo' }, countries: { US: 'America/Los_Angeles' } }).settings,
};

const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const attributes: fc.Arbitrary<HrAttributesInput> = fc.record(
  {
    status: fc.constantFrom('active', 'active', 'terminated', 'leave', 'pre-hire'),
    department: fc.constantFrom('R&D', 'Sales', null),
    jobTitle: fc.constantFrom('Engineer', 'Lead'),
    workerType: fc.constantFrom('employee', 'contractor'),
    displayName: fc.constantFrom('X', 'Y', null),
    onLeave: fc.boolean(),
    hireDate: fc.constantFrom('2020-01-01', '2025-06-16', '2025-06-20', '2025-07-10T09:00', null),
    terminationDate: fc.constantFrom('2025-06-10', '2025-06-16', '2025-06-25', '2025-08-01T17:00:00Z', null),
    location: fc.constantFrom('Tokyo', 'Berlin', null),
    countryCode: fc.constantFrom('US', 'DE'),
    custom: fc.dictionary(fc.constantFrom('k1', 'k2'), fc.constantFrom('v1', 'v2', null), { maxKeys: 2 }),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<HrAttributesInput>;

const record: fc.Arbitrary<WorkerRecord> = fc
  .record({
    workerId: fc.constantFrom(...WORKERS),
    attributes,
    managerWorkerId: maybe(fc.constantFrom(null, 'A', 'B', 'C', 'Z')),
    sequence: maybe(fc.integer({ min: 0, max: 6 })),
    sourceTimestamp: maybe(fc.integer({ min: 0, max: 6 }).map((h) => START - 10 * DAY + h * 3_600_000)),
  })
  .map(({ workerId, attributes: a, managerWorkerId, sequence, sourceTimestamp }) => {
    const r: WorkerRecord = { source: 'hr', workerId, attributes: a };
    if (managerWorkerId !== undefined) r.managerWorkerId = managerWorkerId;
    if (sequence !== undefined) r.sequence = sequence;
    if (sourceTimestamp !== undefined) r.sourceTimestamp = sourceTimestamp;
    return r;
  });

type Op =
  | { op: 'snapshot'; records: WorkerRecord[]; absentWorkers: 'leaver' | 'ignore'; asOf?: number | undefined }
  | { op: 'delta'; records: WorkerRecord[] }
  | { op: 'advance'; ms: number };
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record(
    {
      op: fc.constant('snapshot' as const),
      records: fc.array(record, { maxLength: 7 }),
      absentWorkers: fc.constantFrom('leaver' as const, 'ignore' as const),
      asOf: fc.integer({ min: 0, max: 6 }).map((h) => START - 10 * DAY + h * 3_600_000),
    },
    { requiredKeys: ['op', 'records', 'absentWorkers'] },
  ),
  fc.record({ op: fc.constant('delta' as const), records: fc.array(record, { minLength: 1, maxLength: 3 }) }),
  fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 40 * DAY }) }),
);

function run(ops: Op[]) {
  const ledger = new HrLedger(policy);
  const events: LedgerEvent[] = [];
  let now = START;
  const replays: { events: number; rejected: number }[] = [];
  for (const o of ops) {
    if (o.op === 'advance') {
      now += o.ms;
      events.push(...ledger.tick(now).events);
      continue;
    }
    const full = o.op === 'snapshot';
    const opts = full ? { full, absentWorkers: o.absentWorkers, ...(o.asOf !== undefined ? { asOf: o.asOf } : {}) } : {};
    const first = ledger.apply('hr', o.records, now, opts);
    events.push(...first.events);
    // The same input again decides nothing new.
    const again = ledger.apply('hr', o.records, now, opts);
    replays.push({ events: again.events.length, rejected: again.rejected.length - first.rejected.length });
  }
  return { ledger, events, now, replays };
}

describe('differ properties (fast-check)', () => {
  it('replaying the emitted events reproduces every person as stored, and the same input twice emits nothing', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 14 }), (ops) => {
        const { ledger, events, now, replays } = run(ops);
        expect(replays.every((r) => r.events === 0 && r.rejected === 0)).toBe(true);
        const lastByPerson = new Map<string, HrAttributes>();
        for (const e of events) {
          // Each event links to the previous one of its person, and none is a no-op.
          expect(e.previousAttributes).toEqual(lastByPerson.get(e.personId) ?? null);
          expect(e.changedAttributes.length).toBeGreaterThan(0);
          lastByPerson.set(e.personId, e.attributes);
        }
        for (const p of ledger.all()) {
          const replayed = lastByPerson.get(p.personId);
          if (!p.joined) {
            expect(replayed).toBeUndefined();
            continue;
          }
          expect(replayed).toEqual(viewOf(p.attributes, p.phase));
          // The stored phase is current: the scheduler has run every transition that is due.
          expect(p.phase).toBe(phaseAt(p.attributes, p.removal, zoneFor(policy.timeZones, p.attributes.location, p.attributes.countryCode), now));
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('kinds follow the lifecycle: JOINER first, LEAVER only for someone in, REHIRE only after a LEAVER', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 14 }), (ops) => {
        const { events } = run(ops);
        const state = new Map<string, 'in' | 'out'>();
        for (const e of events) {
          const s = state.get(e.personId);
          switch (e.kind) {
            case 'JOINER':
              expect(s === undefined || (s === 'in' && e.stage === 'EFFECTIVE')).toBe(true);
              expect(e.attributes.status).not.toBe('terminated');
              state.set(e.personId, 'in');
              break;
            case 'REHIRE':
              expect(s === 'out' || (s === 'in' && e.stage === 'EFFECTIVE')).toBe(true);
              expect(e.attributes.status).not.toBe('terminated');
              state.set(e.personId, 'in');
              break;
            case 'LEAVER':
              expect(s).toBe('in');
              expect(e.attributes.status).toBe('terminated');
              state.set(e.personId, 'out');
              break;
            default:
              expect(s).toBeDefined();
              expect(e.attributes.status === 'terminated').toBe(s === 'out');
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('a delta that repeats what is stored emits nothing; a delta older than every attribute it carries changes nothing', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 10 }), fc.constantFrom(...WORKERS), (ops, workerId) => {
        const { ledger, now } = run(ops);
        const p = ledger.get('hr', workerId);
        if (!p) return;
        const { managerPersonId: _m, ...same } = p.attributes;
        const repeat = ledger.apply('hr', [{ source: 'hr', workerId, attributes: same as HrAttributesInput, managerWorkerId: p.managerWorkerId }], now);
        if (p.phase !== 'terminated' || p.removal === null) expect(repeat.events).toEqual([]);
        const q = ledger.get('hr', workerId)!;
        const dept = q.stamps['department'];
        if (dept?.seq != null && dept.seq > 0) {
          const stale = ledger.apply('hr', [{ source: 'hr', workerId, attributes: { department: 'Stale' }, sequence: dept.seq - 1 }], now);
          expect(stale.events).toEqual([]);
          expect(stale.rejected[0]?.errors[0]?.rule).toBe('not-older-than-stored');
          expect(ledger.get('hr', workerId)).toEqual(q);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('a full snapshot makes no leaver of anyone it lists as working', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 8 }), fc.array(record, { maxLength: 6 }), (ops, snapshot) => {
        const { ledger, now } = run(ops);
        const r = ledger.apply('hr', snapshot, now, { full: true, absentWorkers: 'leaver' });
        const listed = new Map<string, number>();
        for (const s of snapshot) listed.set(s.workerId, (listed.get(s.workerId) ?? 0) + 1);
        for (const e of r.events.filter((x) => x.kind === 'LEAVER')) {
          if ((listed.get(e.workerId) ?? 0) === 0) {
            expect(e.reason).toBe('absent-from-snapshot');
            continue;
          }
          expect(e.reason).not.toBe('absent-from-snapshot');
          const p = ledger.get('hr', e.workerId)!;
          expect(p.phase).toBe('terminated');
        }
      }),
      { numRuns: RUNS },
    );
  });

  // Out-of-order delivery: the same stamped records, in source order and shuffled. Hire dates
  // precede termination dates here (the differ refuses a record older than a termination that
  // would end it, a case in-order delivery does not have).
  const ordered = fc.record(
    {
      status: fc.constantFrom('active', 'terminated', 'leave', 'pre-hire'),
      department: fc.constantFrom('R&D', 'Sales', null),
      jobTitle: fc.constantFrom('Engineer', 'Lead'),
      workerType: fc.constantFrom('employee', 'contractor'),
      onLeave: fc.boolean(),
      hireDate: fc.constantFrom('2020-01-01', '2024-03-01', null),
      terminationDate: fc.constantFrom('2025-05-01', '2025-06-10', null),
      custom: fc.dictionary(fc.constantFrom('k1', 'k2'), fc.constantFrom('v1', 'v2', null), { maxKeys: 2 }),
    },
    { requiredKeys: [] },
  ) as fc.Arbitrary<HrAttributesInput>;
  const stampedRecords = fc
    .tuple(
      fc.array(fc.record({ workerId: fc.constantFrom('A', 'B', 'C'), attributes: ordered, managerWorkerId: maybe(fc.constantFrom(null, 'A', 'B', 'C')) }), { minLength: 1, maxLength: 12 }),
      fc.constantFrom('ts' as const, 'seq' as const, 'both' as const),
    )
    .map(([rs, stamp]) =>
      rs.map(({ workerId, attributes: a, managerWorkerId }, i) => {
        const r: WorkerRecord = { source: 'hr', workerId, attributes: a };
        if (managerWorkerId !== undefined) r.managerWorkerId = managerWorkerId;
        if (stamp !== 'seq') r.sourceTimestamp = START - DAY + i * 60_000;
        if (stamp !== 'ts') r.sequence = i;
        return r;
      }),
    );

  function deliver(records: readonly WorkerRecord[]) {
    const ledger = new HrLedger(policy);
    const events: LedgerEvent[] = [];
    for (const r of records) events.push(...ledger.apply('hr', [r], START).events);
    // People as comparable across ledgers: the manager by worker id, not by personId.
    const byPerson = new Map(ledger.all().map((p) => [p.personId, p.workerId]));
    const people = new Map(
      ledger.all().map((p) => [p.workerId, { attributes: { ...p.attributes, managerPersonId: p.attributes.managerPersonId && byPerson.get(p.attributes.managerPersonId) }, managerWorkerId: p.managerWorkerId, phase: p.phase }]),
    );
    return { ledger, events, people };
  }

  it('delivered out of order, records leave each attribute with its newest value, as in order; replaying the events reproduces that state', () => {
    fc.assert(
      fc.property(
        stampedRecords.chain((rs) => fc.tuple(fc.constant(rs), fc.shuffledSubarray(rs, { minLength: rs.length, maxLength: rs.length }))),
        ([inOrder, shuffled]) => {
          const expected = deliver(inOrder);
          const actual = deliver(shuffled);
          expect(actual.people).toEqual(expected.people);
          const last = new Map<string, HrAttributes>();
          for (const e of actual.events) {
            expect(e.previousAttributes).toEqual(last.get(e.personId) ?? null);
            expect(e.changedAttributes.length).toBeGreaterThan(0);
            last.set(e.personId, e.attributes);
          }
          for (const p of actual.ledger.all()) {
            if (p.joined) expect(last.get(p.personId)).toEqual(viewOf(p.attributes, p.phase));
            else expect(last.get(p.personId)).toBeUndefined();
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
