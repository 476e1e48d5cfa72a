import { describe, expect, it } from '@jest/globals';
import { MemberBatcher, type MemberWrite } from '../src/ldap/member-batcher.js';

class DirectoryAnswer extends Error {
  constructor(readonly code: number) {
    super(`result code ${code}`);
  }
}

/** The batcher against a fake directory port: which writes it makes, and what each caller gets. */
function rig(answer: (values: string[]) => Error | undefined) {
  const writes: string[][] = [];
  const write: MemberWrite = async (_group, _attribute, _operation, values) => {
    writes.push(values);
    await new Promise((r) => setTimeout(r, 5));
    const e = answer(values);
    if (e) throw e;
  };
  const batcher = new MemberBatcher(write, 100, (e) => e instanceof DirectoryAnswer);
  const add = (value: string, lane?: string) => batcher.submit({ group: 'cn=g', attribute: 'member', operation: 'add', value, ...(lane ? { lane } : {}) });
  return { writes, add };
}

describe('MemberBatcher', () => {
  it('one modify for a burst; a refused value: each again alone, each caller its own outcome', async () => {
    const { writes, add } = rig((values) => (values.includes('bad') ? new DirectoryAnswer(21) : undefined));
    const outcomes = await Promise.allSettled(['a', 'b', 'bad', 'c'].map((v) => add(v)));
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(((outcomes[2] as PromiseRejectedResult).reason as DirectoryAnswer).code).toBe(21);
    expect(writes).toEqual([['a', 'b', 'bad', 'c'], ['a'], ['b'], ['bad'], ['c']]);
  });

  it('no answer from the directory (connection lost): every caller gets that error, without a write per value', async () => {
    const lost = new Error('connection closed');
    const { writes, add } = rig(() => lost);
    const outcomes = await Promise.allSettled(['a', 'b', 'c'].map((v) => add(v)));
    expect(outcomes.map((o) => (o as PromiseRejectedResult).reason)).toEqual([lost, lost, lost]);
    expect(writes).toEqual([['a', 'b', 'c']]);
  });

  it('changes of another lane never share a modify', async () => {
    const { writes, add } = rig(() => undefined);
    await Promise.all([add('a'), add('x', 'placeholder'), add('b')]);
    expect(writes.sort()).toEqual([['a', 'b'], ['x']]);
  });
});
