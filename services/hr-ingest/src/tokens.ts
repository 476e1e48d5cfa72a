/** Injection tokens of hr-ingest's own providers. */
export const SETTINGS = Symbol('HR_INGEST_SETTINGS');
export const PERSONS = Symbol('PERSONS');
export const SCHEDULER = Symbol('SCHEDULER');
export const WRITER = Symbol('LIFECYCLE_WRITER');
export const SNAPSHOTS = Symbol('SNAPSHOTS');
