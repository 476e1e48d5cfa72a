/** One member value to add to or delete from a group's member attribute. */
export interface MemberChange {
  group: string;
  attribute: string;
  operation: 'add' | 'delete';
  value: string;
  /**
   * Changes batch only with changes of the same lane: the placeholder's removal after each add
   * (which usually fails: it is gone) must not fail, and so unbatch, real removals.
   */
  lane?: string;
}

interface Pending extends MemberChange {
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** Writes member values of one group attribute: `values` all at once in one modify (atomic: all or none). */
export type MemberWrite = (group: string, attribute: string, operation: 'add' | 'delete', values: string[]) => Promise<void>;

/**
 * Group commit for memberships. A group entry takes one membership change at a time anyway (the
 * directory rewrites the whole entry, and with it all its member values, on every modify), so
 * per group and operation one modify is in flight, and the changes that arrive meanwhile (or in
 * the same turn of the event loop as the first) go together in the next: a burst of joiners into `staff` becomes a few modifies of `staff`, not
 * one each. A modify is atomic, so when a batch fails (one value already there, one removed
 * already, the last member of a groupOfNames, the connection) each of its values is written
 * again with a modify of its own, and every caller gets exactly the outcome (and the directory's
 * error code) of its own change.
 */
export class MemberBatcher {
  private readonly queues = new Map<string, Pending[]>();
  private readonly busy = new Set<string>();

  /** `isDirectoryAnswer`: whether an error is the directory's answer to the modify (an LDAP result code), not a lost connection or a timeout. */
  constructor(
    private readonly write: MemberWrite,
    private readonly maxValues: number,
    private readonly isDirectoryAnswer: (e: unknown) => boolean,
  ) {}

  submit(change: MemberChange): Promise<void> {
    return new Promise((resolve, reject) => {
      // DNs and attribute names compare case-insensitively; one queue per entry, attribute and operation.
      const key = `${change.lane ?? ''}\u0000${change.operation}\u0000${change.attribute.toLowerCase()}\u0000${change.group.toLowerCase()}`;
      const queue = this.queues.get(key) ?? [];
      queue.push({ ...change, resolve, reject });
      this.queues.set(key, queue);
      // Not at once: the changes that arrive in the same turn of the event loop (a burst of
      // commands whose creates finished together) go in the first modify too.
      if (!this.busy.has(key)) {
        this.busy.add(key);
        setImmediate(() => void this.pump(key));
      }
    });
  }

  /** Sends the key's queue, batch after batch, until it is empty; `busy` holds the key meanwhile. */
  private async pump(key: string): Promise<void> {
    try {
      for (let queue = this.queues.get(key); queue && queue.length > 0; queue = this.queues.get(key)) {
        const batch = queue.splice(0, this.maxValues);
        if (queue.length === 0) this.queues.delete(key);
        await this.send(batch);
      }
    } finally {
      this.busy.delete(key);
    }
  }

  private async send(batch: Pending[]): Promise<void> {
    const first = batch[0]!;
    const distinct = [...new Set(batch.map((p) => p.value))];
    if (batch.length > 1) {
      try {
        await this.write(first.group, first.attribute, first.operation, distinct);
        for (const p of batch) p.resolve();
        return;
      } catch (e) {
        // One value (several callers asking for the same change), or no answer from the directory
        // at all (connection lost, timeout): the outcome is everybody's, without a write per value.
        if (distinct.length === 1 || !this.isDirectoryAnswer(e)) {
          for (const p of batch) p.reject(e);
          return;
        }
        // Whose value made it fail is each caller's own business: every value again, alone.
      }
    }
    for (const p of batch) {
      try {
        await this.write(p.group, p.attribute, p.operation, [p.value]);
        p.resolve();
      } catch (e) {
        p.reject(e);
      }
    }
  }
}
