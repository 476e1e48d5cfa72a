import { fieldError, type FieldError } from './field-error.js';
import { UTC_ONLY, type TimeZoneSettings } from './time-zones.js';
import { ATTRIBUTE_NAMES } from './worker-record.js';

/** Changes of these attributes make a MOVER; changes of any other attribute an UPDATE. */
export const DEFAULT_MOVER_ATTRIBUTES = ['department', 'division', 'costCenter', 'location', 'jobTitle', 'managerPersonId', 'company'] as const;

/** How hr-ingest turns HR changes into lifecycle events. */
export interface LifecyclePolicy {
  moverAttributes: ReadonlySet<string>;
  timeZones: TimeZoneSettings;
}

export const DEFAULT_POLICY: LifecyclePolicy = { moverAttributes: new Set(DEFAULT_MOVER_ATTRIBUTES), timeZones: UTC_ONLY };

/**
 * Reads the configured mover attribute list: HrAttributes names (`manager` is accepted for
 * managerPersonId) or `custom.<key>` for an extension attribute.
 */
export function parseMoverAttributes(names: readonly string[]): { set: Set<string>; errors: FieldError[] } {
  const set = new Set<string>();
  const errors: FieldError[] = [];
  const known = new Map(ATTRIBUTE_NAMES.map((n) => [n.toLowerCase(), n as string]));
  known.set('manager', 'managerPersonId');
  for (const raw of names) {
    const name = raw.trim();
    if (name.startsWith('custom.') && name.length > 7) set.add(name);
    else if (known.has(name.toLowerCase())) set.add(known.get(name.toLowerCase())!);
    else errors.push(fieldError('HR_MOVER_ATTRIBUTES', name, 'known-attribute', `unknown attribute; use one of ${[...ATTRIBUTE_NAMES, 'manager'].join(', ')} or custom.<key>`));
  }
  if (set.has('workerType')) errors.push(fieldError('HR_MOVER_ATTRIBUTES', 'workerType', 'not-conversion', 'a workerType change is always a CONVERSION'));
  return { set, errors };
}
