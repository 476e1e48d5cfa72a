export { canonicalJson, sameDesired, type AttributeValue, type DesiredAccount } from './desired-state.js';
export {
  compileCondition,
  ConditionError,
  COMPARISON_OPERATORS,
  type CompiledCondition,
  type ConditionDoc,
  type ConditionEnv,
  type ConditionTrace,
} from './conditions.js';
export {
  compileExpression,
  ExpressionError,
  EXPRESSION_FUNCTIONS,
  stripDiacritics,
  type CompiledExpression,
  type ExprScope,
  type Value,
} from './expressions.js';
export { factReader, Facts, HR_ATTRIBUTES, isKnownFact } from './facts.js';
export { applyLifecycleEvent, newPersonRecord, phaseAt, type LifecycleFacts, type PersonRecord, type Phase } from './lifecycle.js';
export {
  ACCOUNT_KEY,
  evaluate,
  uniqueCandidate,
  type AllocationRequest,
  type AttributeExplanation,
  type Evaluation,
  type EvaluationInput,
  type ManualGrant,
  type PendingAction,
  type SodExceptionGrant,
  type Source,
  type TargetDecision,
  type TargetMemory,
  type Violation,
} from './evaluator.js';
export {
  formatProblem,
  loadPolicy,
  loadPolicyOrThrow,
  PolicyValidationError,
  type LoadOptions,
  type LoadResult,
  type PolicyFile,
  type PolicyProblem,
} from './policy-loader.js';
export {
  DEFAULT_LIFECYCLE,
  type CompiledPolicy,
  type CompiledRole,
  type CompiledTarget,
  type EntitlementRef,
  type LifecycleSettings,
  type PolicyDoc,
} from './policy-model.js';
export { POLICY_JSON_SCHEMA } from './policy-schema.js';
export { diffAccount, SimulationAggregator, type AccountChange, type ChangeKind, type SimulationSummary, type TargetSummary } from './simulation.js';
export { dateFormatter, formatDate, parseDate, parseDuration, parseTimePoint, TimeZone, UTC, type WallClock } from './time.js';
export { DECISION_LIMITS, decisionTarget, ExpressionTable, flattenTrace, GrantTable, policyDecision, type DecisionInput, type IssuedCommand } from './decision.js';
