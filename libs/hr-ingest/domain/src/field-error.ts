/**
 * Why one value of one record was refused: the field (a path such as `attributes.hireDate` or a
 * CSV column), the offending value, the rule it broke and a sentence a person can act on.
 */
export interface FieldError {
  field: string;
  /** The value as received, shortened; absent when the field was missing. */
  value?: string | undefined;
  rule: string;
  message: string;
}

const MAX_VALUE = 120;

/** A printable, bounded rendering of a received value for error reports. */
export function shownValue(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  let s: string;
  if (typeof v === 'string') s = v;
  else {
    try {
      s = JSON.stringify(v) ?? String(v);
    } catch {
      s = String(v);
    }
  }
  return s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE)}…` : s;
}

export function fieldError(field: string, value: unknown, rule: string, message: string): FieldError {
  const shown = shownValue(value);
  return shown === undefined ? { field, rule, message } : { field, value: shown, rule, message };
}

/** One line per error, e.g. for CLI output and logs without values. */
export function describeErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => `${e.field}: ${e.message} (rule ${e.rule}${e.value === undefined ? '' : `, value ${JSON.stringify(e.value)}`})`).join('; ');
}
