import { isValidTimeZone } from './dates.js';
import { fieldError, type FieldError } from './field-error.js';

/**
 * Which IANA zone a worker's dates are read in: the zone of their location, else of their
 * country, else the default. Location names match case-insensitively.
 */
export interface TimeZoneSettings {
  defaultZone: string;
  byLocation: ReadonlyMap<string, string>;
  byCountry: ReadonlyMap<string, string>;
}

export const UTC_ONLY: TimeZoneSettings = { defaultZone: 'UTC', byLocation: new Map(), byCountry: new Map() };

export function zoneFor(s: TimeZoneSettings, location: string | null | undefined, countryCode: string | null | undefined): string {
  if (location) {
    const z = s.byLocation.get(location.trim().toLowerCase());
    if (z) return z;
  }
  if (countryCode) {
    const z = s.byCountry.get(countryCode.trim().toUpperCase());
    if (z) return z;
  }
  return s.defaultZone;
}

/**
 * Reads `{ default?, locations?: {name: zone}, countries?: {CC: zone} }` (the parsed YAML or JSON
 * of HR_TIME_ZONES), checking every zone name against the runtime's time-zone database.
 */
export function parseTimeZoneSettings(input: unknown, defaultZone = 'UTC'): { settings: TimeZoneSettings; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const byLocation = new Map<string, string>();
  const byCountry = new Map<string, string>();
  let zone = defaultZone;
  const check = (field: string, value: unknown): string | undefined => {
    if (typeof value !== 'string' || !isValidTimeZone(value)) {
      errors.push(fieldError(field, value, 'iana-time-zone', 'expected an IANA time zone name such as Europe/Berlin or America/New_York'));
      return undefined;
    }
    return value;
  };
  if (!isValidTimeZone(defaultZone)) errors.push(fieldError('default', defaultZone, 'iana-time-zone', 'expected an IANA time zone name'));
  if (input !== undefined && input !== null) {
    if (typeof input !== 'object' || Array.isArray(input)) {
      errors.push(fieldError('(root)', input, 'object', 'expected an object with default, locations and countries'));
    } else {
      const o = input as Record<string, unknown>;
      for (const key of Object.keys(o)) {
        if (!['default', 'locations', 'countries'].includes(key)) errors.push(fieldError(key, undefined, 'known-key', 'unknown key; expected default, locations or countries'));
      }
      if (o['default'] !== undefined) zone = check('default', o['default']) ?? zone;
      for (const [section, target, normalize] of [
        ['locations', byLocation, (k: string) => k.trim().toLowerCase()],
        ['countries', byCountry, (k: string) => k.trim().toUpperCase()],
      ] as const) {
        const map = o[section];
        if (map === undefined) continue;
        if (typeof map !== 'object' || map === null || Array.isArray(map)) {
          errors.push(fieldError(section, map, 'object', `expected ${section} as a map of name to IANA zone`));
          continue;
        }
        for (const [k, v] of Object.entries(map as Record<string, unknown>)) {
          if (section === 'countries' && !/^[A-Za-z]{2}$/.test(k)) errors.push(fieldError(`countries.${k}`, k, 'iso-3166-alpha-2', 'country keys are ISO 3166-1 alpha-2 codes'));
          const z = check(`${section}.${k}`, v);
          if (z) target.set(normalize(k), z);
        }
      }
    }
  }
  return { settings: { defaultZone: zone, byLocation, byCountry }, errors };
}
