import type { DesiredAccount, PersonFacts } from './desired-state.js';

/** PostgreSQL role names: lower-case, [a-z0-9_], at most 63 bytes. */
export function roleNameFor(facts: PersonFacts): string {
  const base = (facts.attributes.userName ?? '').toLowerCase().replace(/@.*$/, '').replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '');
  const name = base.length > 0 ? base : `p_${facts.personId.replace(/-/g, '').slice(0, 16)}`;
  return name.slice(0, 63);
}

/**
 * Walking-skeleton policy: everyone whose HR status is not terminated has an active PostgreSQL
 * login role on the `postgres` target; a terminated person's role is disabled. (The rule engine
 * replaces this with policy files.)
 */
export function builtinPostgresRule(facts: PersonFacts): DesiredAccount {
  const terminated = facts.kind === 'LEAVER' || facts.attributes.status === 'terminated';
  return {
    target: 'postgres',
    targetKind: 'postgres',
    state: terminated ? 'DISABLED' : 'ACTIVE',
    accountName: roleNameFor(facts),
    attributes: {},
    groups: [],
  };
}
