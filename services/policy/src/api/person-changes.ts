import { Database, type SqlClient } from '@provisio/persistence';
import type { LiveWork } from '../engine/live-work.js';
import type { CauseReason, PolicyEngine } from '../engine/policy-engine.js';
import type { PersonStateRepository } from '../engine/person-state.repository.js';
import { PolicyApiError } from '../policy/policy-api-error.js';

/**
 * Runs an API change of one person (manual assignment, SoD exception) in one transaction with the
 * re-evaluation it causes: the person row is locked first, so the change and its commands commit
 * together and in order with the person's lifecycle events.
 */
export async function changePerson<T>(
  deps: { db: Database; live: LiveWork; engine: PolicyEngine; persons: PersonStateRepository },
  personId: string,
  reason: CauseReason,
  change: (sql: SqlClient) => Promise<T>,
): Promise<T> {
  return deps.live.run(() =>
    deps.db.transaction(async (tx) => {
      const state = await deps.persons.load(tx.sql, [personId], { lock: true });
      if (!state.has(personId)) throw new PolicyApiError('PERSON_NOT_FOUND', `no person ${personId} is known to the policy service`, 404);
      const result = await change(tx.sql);
      await deps.engine.process(tx.sql, [{ personId, reason, hrEffectiveAt: null }]);
      return result;
    }),
  );
}
