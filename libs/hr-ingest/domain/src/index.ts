export { ATTRIBUTE_NAMES, EMPTY_ATTRIBUTES, type PersonState, type Phase, type Removal } from './worker-record.js';
export { toAlpha2 } from './country-codes.js';
export { NO_STAMP, hasStamp, newerThan, newest, olderBy, type Stamp } from './stamps.js';
export {
  HR_FIELDS,
  HR_STATUSES,
  hrAttributesInputSchema,
  parseHrAttributes,
  parseWorkerId,
  sourceSchema,
  toFieldErrors,
  workerIdSchema,
  type HrAttributesInput,
  type HrField,
  type HrStatus,
  type WorkerRecord,
} from './worker-input.js';
export { describeErrors, fieldError, shownValue, type FieldError } from './field-error.js';
export { DATE_FORMATS, hrInstant, isHrDate, isValidTimeZone, parseHrDate, toIsoDate, zoneOffsetMs, zonedTimeToEpoch, type DateFormat, type HrDate } from './dates.js';
export { UTC_ONLY, parseTimeZoneSettings, zoneFor, type TimeZoneSettings } from './time-zones.js';
export { DEFAULT_MOVER_ATTRIBUTES, DEFAULT_POLICY, parseMoverAttributes, type LifecyclePolicy } from './lifecycle-policy.js';
export { changedBetween, decide, phaseAt, viewOf, type Change, type DecideContext, type Decision, type LifecycleDecision } from './lifecycle-decision.js';
export { decideBatch, duplicateError, duplicateWorkerIds, type BatchContext, type BatchOutcome } from './batch.js';
export { DEFAULT_BRAKE, evaluateBrake, type BrakeSettings, type BrakeVerdict } from './mass-change-brake.js';
export { bindHeader, mapRow, parseCsvMapping, type BoundMapping, type CsvMapping, type MappedColumn, type MappedRow, type Parsed, type SnapshotMode } from './csv-mapping.js';
export { HrLedger, type LedgerEvent, type LedgerResult } from './hr-ledger.js';
export { DEFAULT_MAX_CLOCK_SKEW_MS, formatDuration, futureSourceTime, parseDuration } from './source-time.js';
