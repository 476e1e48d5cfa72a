/**
 * The mass-change safety brake: a snapshot that would turn more of a source's people into
 * leavers than a share (default 20 %) or a count is held for a human to confirm or discard. A
 * broken export (a filter gone wrong, a truncated file) must never deprovision half the company.
 */
export interface BrakeSettings {
  /** Largest share of the population (0..1) a snapshot may make leavers without a hold. */
  maxLeaverShare: number;
  /** Largest number of leavers a snapshot may emit without a hold; unset = no count limit. */
  maxLeaverCount?: number | undefined;
}

export const DEFAULT_BRAKE: BrakeSettings = { maxLeaverShare: 0.2 };

export interface BrakeVerdict {
  hold: boolean;
  leavers: number;
  population: number;
  /** Why the snapshot is held, in words. */
  reason?: string;
  /**
   * The rule that holds it: `mass-change-brake` (too many leavers), `readable-worker-ids` (rows
   * without a readable worker id while people are absent from a full snapshot).
   */
  rule?: string;
}

/**
 * @param population people of the source who are not terminated before the snapshot
 * @param leavers leavers the snapshot would emit (terminated in the file, or absent from it)
 */
export function evaluateBrake(population: number, leavers: number, s: BrakeSettings): BrakeVerdict {
  const base = { hold: false, leavers, population };
  if (leavers === 0) return base;
  if (s.maxLeaverCount !== undefined && leavers > s.maxLeaverCount) {
    return { ...base, hold: true, rule: 'mass-change-brake', reason: `${leavers} leavers exceed the limit of ${s.maxLeaverCount} per snapshot` };
  }
  const share = population === 0 ? 1 : leavers / population;
  if (share > s.maxLeaverShare) {
    const pct = (x: number) => `${Math.round(x * 1000) / 10} %`;
    return { ...base, hold: true, rule: 'mass-change-brake', reason: `${leavers} leavers are ${pct(share)} of ${population} people, above the limit of ${pct(s.maxLeaverShare)}` };
  }
  return base;
}
