/**
 * Orders a person's audit records causally: a record comes after every record it was caused by
 * (result → command → policy decision → HR event, following the ids in the payloads), and
 * otherwise by event time, then audit position. Audit receives topics in parallel, so neither
 * arrival order nor clocks alone give the causal order.
 */
export interface CausalNode {
  /** Audit position; unique. */
  seq: number;
  /** Ids this record is known by (its entity id and CloudEvents id). */
  ids: string[];
  /** Ids of the records it was caused by. */
  causeIds: string[];
  /** Event time, epoch ms. */
  time: number;
}

class MinHeap<T> {
  private readonly items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => boolean) {}
  get size(): number {
    return this.items.length;
  }
  push(x: T): void {
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): T | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

const earlier = (a: CausalNode, b: CausalNode): boolean => a.time < b.time || (a.time === b.time && a.seq < b.seq);

export function causalOrder<N extends CausalNode>(nodes: readonly N[]): N[] {
  const providers = new Map<string, N[]>();
  for (const n of nodes) {
    for (const id of n.ids) {
      const list = providers.get(id) ?? [];
      list.push(n);
      providers.set(id, list);
    }
  }
  const children = new Map<number, N[]>();
  const waiting = new Map<number, number>();
  for (const n of nodes) {
    const parents = new Set<N>();
    for (const c of n.causeIds) for (const p of providers.get(c) ?? []) if (p !== n) parents.add(p);
    waiting.set(n.seq, parents.size);
    for (const p of parents) {
      const list = children.get(p.seq) ?? [];
      list.push(n);
      children.set(p.seq, list);
    }
  }
  const ready = new MinHeap<N>(earlier);
  for (const n of nodes) if (waiting.get(n.seq) === 0) ready.push(n);
  const out: N[] = [];
  const done = new Set<number>();
  while (out.length < nodes.length) {
    let next = ready.pop();
    if (!next) {
      // A cycle (ids reused by mistake): release the earliest remaining record.
      next = nodes.filter((n) => !done.has(n.seq)).reduce((a, b) => (earlier(b, a) ? b : a));
    }
    if (done.has(next.seq)) continue;
    done.add(next.seq);
    out.push(next);
    for (const c of children.get(next.seq) ?? []) {
      const left = (waiting.get(c.seq) ?? 0) - 1;
      waiting.set(c.seq, left);
      if (left === 0 && !done.has(c.seq)) ready.push(c);
    }
  }
  return out;
}
