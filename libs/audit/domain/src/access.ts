/**
 * "Who has or had access" from the audit trail: a target holds, for a person, the desired state
 * of the last command a connector applied (APPLIED or NO_CHANGE). Failed, stale or unimplemented
 * results change nothing.
 */
export interface AppliedState {
  personId: string;
  target: string;
  /** ACTIVE, DISABLED or ABSENT from the command that was applied. */
  state: string;
  groups: string[];
  appliedAt: number;
  version: number;
  commandId: string;
  resultId: string;
  /** Audit position of the result. */
  resultSeq: number;
  /**
   * Set on a state carried forward by retention (the records before it were dropped): since when
   * the account had been active, and each group held, without interruption up to this state.
   */
  carried?: CarriedSince | undefined;
}

export interface CarriedSince {
  activeSince: number | null;
  groupSince: Readonly<Record<string, number>>;
}

export interface AccessGrant {
  personId: string;
  target: string;
  state: string;
  groups: string[];
  /** Start of the uninterrupted period of access that covers the time asked about. */
  since: number;
  /** Until when it lasted, when it ended (only for interval questions). */
  until: number | null;
  evidence: { commandId: string; resultId: string; resultSeq: number; version: number };
}

function grants(s: AppliedState, entitlement: string | undefined): boolean {
  return s.state === 'ACTIVE' && (entitlement === undefined || s.groups.includes(entitlement));
}

/** Start of the uninterrupted period that `history[first]` opens, counting time carried from before retention. */
function periodStart(head: AppliedState, entitlement: string | undefined): number {
  const carried = entitlement === undefined ? head.carried?.activeSince : head.carried?.groupSince[entitlement];
  return carried ?? head.appliedAt;
}

function byTime(a: AppliedState, b: AppliedState): number {
  return a.appliedAt - b.appliedAt || a.version - b.version || a.resultSeq - b.resultSeq;
}

function groupByAccount(states: readonly AppliedState[]): AppliedState[][] {
  const m = new Map<string, AppliedState[]>();
  for (const s of states) {
    const k = `${s.personId}\u0000${s.target}`;
    const list = m.get(k) ?? [];
    list.push(s);
    m.set(k, list);
  }
  return [...m.values()].map((l) => l.sort(byTime));
}

/**
 * Accounts with access at `at` (or, with `until`, at any moment of [at, until]). `entitlement`
 * narrows to one group or role.
 */
export function accessDuring(states: readonly AppliedState[], at: number, until: number = at, entitlement?: string): AccessGrant[] {
  const out: AccessGrant[] = [];
  for (const history of groupByAccount(states)) {
    for (let i = 0; i < history.length; i++) {
      const s = history[i]!;
      const end = history[i + 1]?.appliedAt ?? Number.POSITIVE_INFINITY;
      // s holds during [s.appliedAt, end).
      if (!grants(s, entitlement) || s.appliedAt > until || end <= at) continue;
      let first = i;
      while (first > 0 && grants(history[first - 1]!, entitlement)) first--;
      let last = i;
      while (last + 1 < history.length && grants(history[last + 1]!, entitlement)) last++;
      const ended = history[last + 1]?.appliedAt ?? null;
      const current = history.filter((x) => x.appliedAt <= Math.max(at, s.appliedAt) && x.appliedAt <= until).at(-1) ?? s;
      out.push({
        personId: s.personId,
        target: s.target,
        state: current.state,
        groups: current.groups,
        since: periodStart(history[first]!, entitlement),
        until: ended,
        evidence: { commandId: current.commandId, resultId: current.resultId, resultSeq: current.resultSeq, version: current.version },
      });
      i = last; // one entry per uninterrupted period
    }
  }
  return out.sort((a, b) => (a.personId < b.personId ? -1 : a.personId > b.personId ? 1 : a.since - b.since));
}

/**
 * The one state of an account that retention keeps when it drops the records before a cut: the
 * last applied state, with since when the account had been active and each group held without
 * interruption (`history` is the account's applied states up to the cut, in any order, possibly
 * starting with the state an earlier retention carried).
 */
export function carryForward(history: readonly AppliedState[]): AppliedState & { carried: CarriedSince } {
  if (history.length === 0) throw new RangeError('carryForward needs at least one applied state');
  const sorted = [...history].sort(byTime);
  let since: CarriedSince = { activeSince: null, groupSince: {} };
  let previous: AppliedState | undefined;
  for (const s of sorted) {
    if (s.state !== 'ACTIVE') since = { activeSince: null, groupSince: {} };
    else {
      const wasActive = previous?.state === 'ACTIVE';
      const groupSince: Record<string, number> = {};
      for (const g of s.groups) groupSince[g] = (wasActive && previous!.groups.includes(g) ? since.groupSince[g] : undefined) ?? s.carried?.groupSince[g] ?? s.appliedAt;
      since = { activeSince: (wasActive ? since.activeSince : null) ?? s.carried?.activeSince ?? s.appliedAt, groupSince };
    }
    previous = s;
  }
  return { ...previous!, carried: since };
}
