/**
 * Source stamps: how new an input is, by the source's clock (`ts`, epoch ms) and/or its change
 * sequence (`seq`). Two stamps are compared component by component, only on the components both
 * carry; a stamp that carries none is unordered.
 */
export interface Stamp {
  ts: number | null;
  seq: number | null;
}

export const NO_STAMP: Stamp = Object.freeze({ ts: null, seq: null });

export function hasStamp(s: Stamp | null | undefined): s is Stamp {
  return !!s && (s.ts !== null || s.seq !== null);
}

/** The component that makes `a` older than `b`, if any (sequence first). */
export function olderBy(a: Stamp, b: Stamp | null | undefined): 'sequence' | 'sourceTimestamp' | undefined {
  if (!b) return undefined;
  if (a.seq !== null && b.seq !== null && a.seq < b.seq) return 'sequence';
  if (a.ts !== null && b.ts !== null && a.ts < b.ts) return 'sourceTimestamp';
  return undefined;
}

/**
 * `a` is strictly newer than `b`: not older on any shared component and newer on one, or the two
 * share no component (nothing says `a` is older).
 */
export function newerThan(a: Stamp, b: Stamp | null | undefined): boolean {
  if (!b) return true;
  if (olderBy(a, b)) return false;
  const shared = (a.seq !== null && b.seq !== null) || (a.ts !== null && b.ts !== null);
  if (!shared) return true;
  return (a.seq !== null && b.seq !== null && a.seq > b.seq) || (a.ts !== null && b.ts !== null && a.ts > b.ts);
}

/** The component-wise newest of two stamps. */
export function newest(a: Stamp | null | undefined, b: Stamp | null | undefined): Stamp {
  const max = (x: number | null | undefined, y: number | null | undefined) => (x == null ? (y ?? null) : y == null ? x : Math.max(x, y));
  return { ts: max(a?.ts, b?.ts), seq: max(a?.seq, b?.seq) };
}
