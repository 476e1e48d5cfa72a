export const PERSONS = Symbol('PERSONS');
