export type { AccountLocator, AccountPatch, AttributeValue, Attributes, DesiredAccount, DesiredState, Page, TargetAccount, TargetConnector, TargetGroup } from './target-connector.js';
export { ConnectorError, ConnectorErrorCode, parseRetryAfter, toConnectorError, type ConnectorErrorClass } from './connector-error.js';
export { DEFAULT_PLAN_OPTIONS, attributeDifferences, canonicalValue, membershipDifferences, planConvergence, valuesEqual, type PlanOptions, type Step } from './converge-plan.js';
export { TokenBucket, type TokenBucketOptions } from './token-bucket.js';
export { CircuitBreaker, DEFAULT_BREAKER, type Admission, type BreakerState, type BreakerTransition, type CircuitBreakerOptions } from './circuit-breaker.js';
export { DEFAULT_BACKOFF, backoffDelay, retryDelay, type BackoffOptions } from './backoff.js';
export { DRIFT_KINDS, DriftDetector, findingsFromPlan, type DriftFinding, type DriftKind } from './drift.js';
export { REDACTED_VALUE, personalValues, redactValues, scrubTargetText, withoutValues } from './redaction.js';
