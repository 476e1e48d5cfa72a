import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { causalIdsOf, causalOrder, deriveIndex, type CausalNode } from '../src/index.js';
import { content } from './fixtures.js';

describe('causal order', () => {
  it('puts HR event → policy decision → command → result in causal order even when clocks disagree', () => {
    const nodes: CausalNode[] = [
      { seq: 4, ids: ['res-1'], causeIds: ['cmd-1'], time: 100 },
      { seq: 3, ids: ['cmd-1'], causeIds: ['dec-1', 'ev-1'], time: 50 },
      { seq: 2, ids: ['dec-1'], causeIds: ['ev-1'], time: 300 }, // skewed clock
      { seq: 1, ids: ['ev-1'], causeIds: [], time: 200 },
      { seq: 5, ids: ['other'], causeIds: [], time: 10 },
    ];
    expect(causalOrder(nodes).map((n) => n.seq)).toEqual([5, 1, 2, 3, 4]);
  });

  it('falls back to time, then position, and survives cycles', () => {
    expect(causalOrder([{ seq: 2, ids: [], causeIds: [], time: 5 }, { seq: 1, ids: [], causeIds: [], time: 5 }, { seq: 3, ids: [], causeIds: [], time: 1 }]).map((n) => n.seq)).toEqual([3, 1, 2]);
    expect(causalOrder([{ seq: 1, ids: ['a'], causeIds: ['b'], time: 2 }, { seq: 2, ids: ['b'], causeIds: ['a'], time: 1 }]).map((n) => n.seq)).toEqual([2, 1]);
  });

  it('property: every record comes after all records it was caused by', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.array(fc.nat(), { maxLength: 3 })), { minLength: 1, maxLength: 40 }), (spec) => {
        // Parents only among earlier indices: a DAG.
        const nodes: CausalNode[] = spec.map(([time, parents], i) => ({ seq: i + 1, ids: [`n${i}`], causeIds: i === 0 ? [] : parents.map((p) => `n${p % i}`), time }));
        const order = causalOrder(nodes).map((n) => n.seq);
        const pos = new Map(order.map((s, i) => [s, i]));
        return order.length === nodes.length && nodes.every((n) => n.causeIds.every((c) => pos.get(Number(c.slice(1)) + 1)! < pos.get(n.seq)!));
      }),
    );
  });

  it('reads causal links from any payload and makes dead letters follow their original', () => {
    expect(causalIdsOf({ resultId: 'r', commandId: 'c' })).toEqual({ entityId: 'r', causeIds: ['c'] });
    expect(causalIdsOf({ commandId: 'c', cause: { lifecycleEventId: 'e', decisionId: 'd' } })).toEqual({ entityId: 'c', causeIds: ['d', 'e'] });
    expect(causalIdsOf({ decisionId: 'd', lifecycleEventId: 'e' })).toEqual({ entityId: 'd', causeIds: ['e'] });
    // A PolicyDecision: its own id, caused by the HR event; the commands it lists (targets[].commandId) are its effects, not causes.
    const decision = { decisionId: 'd', personId: 'p', cause: { lifecycleEventId: 'e', lifecycleKind: 'JOINER', reason: 'lifecycle', hrEffectiveAt: 1 }, targets: [{ target: 'dir', commandId: 'c' }] };
    expect(causalIdsOf(decision)).toEqual({ entityId: 'd', causeIds: ['e'] });
    expect(deriveIndex(content(4, { topic: 'policy.decisions', json: decision, headers: { ce_id: 'd', ce_type: 'dev.provisio.policy.decision' } }))).toMatchObject({
      entityId: 'd', causeIds: ['e'], ceType: 'dev.provisio.policy.decision', target: null, outcome: null,
    });
    const dlt = deriveIndex(content(3, { topic: 'provisioning.commands.ldap.dlt', json: { commandId: 'c' }, headers: { ce_id: 'c', 'dlt-original-topic': 'provisioning.commands.ldap' } }));
    expect(dlt).toMatchObject({ entityId: null, causeIds: ['c'], deadLetterOf: 'provisioning.commands.ldap' });
  });
});
