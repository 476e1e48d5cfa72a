// Assertions shared by test files. Apart from the package's main entry (which bench and deploy
// tools load outside Jest): @jest/globals refuses to load anywhere else.
import { expect } from '@jest/globals';

/**
 * The text names none of the values, case-insensitive and also as a part of a longer word: what
 * goes into results, dead letters and logs must not carry a person's account name, DN, email or
 * other attribute values.
 */
export function expectNamesNone(text: string, ...values: string[]): void {
  for (const v of values) expect(text.toLowerCase()).not.toContain(v.toLowerCase());
}

/** What `promise` rejects with, asserted to be an instance of `type` (a promise that fulfils fails the assertion). */
export async function rejectionOf<E>(promise: Promise<unknown>, type: abstract new (...args: never[]) => E): Promise<E> {
  const e = await promise.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(type);
  return e as E;
}
