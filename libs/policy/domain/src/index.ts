export { canonicalJson, type DesiredAccount, type PersonFacts } from './desired-state.js';
export { builtinPostgresRule, roleNameFor } from './builtin-rule.js';
