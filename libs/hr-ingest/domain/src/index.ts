export { EMPTY_ATTRIBUTES, type HrAttributesInput, type PersonState, type WorkerRecord } from './worker-record.js';
export { decide, mergeAttributes, type Decision, type LifecycleDecision } from './lifecycle-decision.js';
