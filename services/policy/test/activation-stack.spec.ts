import { describe, expect, it } from '@jest/globals';
import { activationStack } from '../src/policy/policy-store.js';

const a = (version: number, kind: 'file' | 'activate' | 'rollback' = 'activate') => ({ version, kind });

describe('rollback walks back the activation history', () => {
  it('v1, v2, v3 active in turn: rollbacks go to v2, then v1, then nowhere', () => {
    const history = [a(1, 'file'), a(2), a(3)];
    expect(activationStack(history)).toEqual([1, 2, 3]);
    history.push(a(2, 'rollback'));
    expect(activationStack(history)).toEqual([1, 2]);
    history.push(a(1, 'rollback'));
    expect(activationStack(history)).toEqual([1]);
  });

  it('a later activation starts a new branch; re-activating the active version adds nothing', () => {
    expect(activationStack([a(1, 'file'), a(2), a(1, 'rollback'), a(3), a(3)])).toEqual([1, 3]);
    // A rollback to an explicit earlier version pops everything above it.
    expect(activationStack([a(1), a(2), a(3), a(4), a(2, 'rollback')])).toEqual([1, 2]);
    // A rollback whose version is not on the stack (history recorded before this rule) starts it afresh.
    expect(activationStack([a(1), a(5, 'rollback')])).toEqual([5]);
  });
});
