import type { PolicyProblem } from '@provisio/policy-domain';

export type PolicyErrorCode =
  | 'INVALID_POLICY'
  | 'VERSION_NOT_FOUND'
  | 'NOTHING_TO_ROLL_BACK'
  | 'NO_ACTIVE_POLICY'
  | 'PERSON_NOT_FOUND'
  | 'INVALID_REQUEST'
  | 'UNKNOWN_REFERENCE'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'OUT_OF_SCOPE'
  | 'POLICY_PATH_UNREADABLE';

/** Errors of the policy service: an HTTP status and, for invalid policies, every problem found. */
export class PolicyApiError extends Error {
  readonly retriable = false;

  constructor(
    readonly code: PolicyErrorCode,
    message: string,
    readonly status: number,
    readonly problems: PolicyProblem[] = [],
    /** Structured details for the answer (e.g. the scope condition that excluded a person). */
    readonly details?: Record<string, unknown>,
  ) {
    super(
      problems.length > 0 ? `${message}:\n${problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.path}: ${p.message} [${p.rule}]`).join('\n')}` : message,
    );
    this.name = 'PolicyApiError';
  }
}
