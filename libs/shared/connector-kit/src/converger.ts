import { ConnectorError, ConnectorErrorCode, personalValues, planConvergence, toConnectorError, withoutValues, type AccountPatch, type DesiredAccount, type Step, type TargetAccount } from '@provisio/connector-domain';
import type { TargetOperation } from '@provisio/contracts';
import type { TargetRuntime } from './target-runtime.js';

export interface ConvergeOutcome {
  status: 'APPLIED' | 'NO_CHANGE';
  operations: TargetOperation[];
  accountRef: string | null;
}

/** What a failed convergence did before it failed: the writes that succeeded and the account it knows. */
export interface PartialOutcome {
  operations: TargetOperation[];
  accountRef: string | null;
}

const partials = new WeakMap<object, PartialOutcome>();

/** The writes made (and the account ref known) before `e` ended a convergence; undefined when it made none and knew none. */
export function partialOutcome(e: unknown): PartialOutcome | undefined {
  return typeof e === 'object' && e !== null ? partials.get(e) : undefined;
}

/** Rounds of "name taken → re-read → converge again" before a conflict counts as permanent. */
const MAX_CONFLICT_ROUNDS = 3;

const isDeprovisioning = (s: Step) => s.type === 'DISABLE' || s.type === 'REMOVE_MEMBERSHIP';

/**
 * Read → compare → write only the difference, through the target's runtime (quarantine, rate
 * limit, timeouts). Safe to run again with the same desired state at any point: a crash after a
 * write and before the result was recorded converges to "no change" on replay.
 *
 * - A leaver's deprovisioning (membership removals, DISABLE) runs first and independently: a
 *   refused attribute update or rename cannot keep the account enabled. A permanent failure of
 *   any step is still thrown at the end.
 * - "Already exists" on a create or rename re-reads the account: when the read now explains it
 *   (the account was created or renamed meanwhile), convergence continues from there; when it
 *   does not (the name collides with an object the connector's read cannot find), the command
 *   fails permanently with an ALREADY_EXISTS error naming the conflict.
 * - Whatever is thrown carries the writes that succeeded and the account ref (partialOutcome), and
 *   its message names none of the person's values (account names before and after a rename, DN,
 *   attribute values), also where the target's own message echoed them: it goes into the result,
 *   the dead letter's headers and the logs.
 */
export async function converge(runtime: TargetRuntime, desired: DesiredAccount, knownRef: string | null, prefetched?: TargetAccount | null): Promise<ConvergeOutcome> {
  const c = runtime.connector;
  const ops: TargetOperation[] = [];
  let account: TargetAccount | null = null;
  let attempting: Step['type'] | undefined;
  // Every state of the account this convergence saw (names and DNs before and after a rename), for the redaction of error texts.
  const seen: TargetAccount[] = [];
  const saw = <T extends TargetAccount | null>(a: T): T => {
    if (a) seen.push(a);
    return a;
  };
  const read = async (ref: string | null) => saw(await runtime.call('read', () => c.readAccount({ personId: desired.personId, accountName: desired.accountName, accountRef: ref, desired })));

  const execute = async (steps: Step[]): Promise<void> => {
    let patch: AccountPatch | undefined;
    let patchOps: TargetOperation[] = [];
    const flushPatch = async () => {
      if (!patch || !account) return;
      const p = patch;
      const current = account;
      patch = undefined;
      attempting = p.name !== undefined ? 'RENAME' : 'UPDATE';
      account = saw(await runtime.call('update', () => c.updateAccount(current, p, desired)));
      ops.push(...patchOps);
      patchOps = [];
    };
    for (const step of steps) {
      if (step.type === 'CLAIM' || step.type === 'RENAME' || step.type === 'UPDATE') {
        patch ??= {};
        if (step.type === 'CLAIM') patch.owner = desired.personId;
        if (step.type === 'RENAME') patch.name = step.to;
        if (step.type === 'UPDATE') patch.attributes = step.attributes;
        patchOps.push(operationOf(step));
        continue;
      }
      await flushPatch();
      const current = account;
      attempting = step.type;
      switch (step.type) {
        case 'CREATE':
          account = saw(await runtime.call('create', () => c.createAccount(desired)));
          break;
        case 'ENABLE':
          await runtime.call('enable', () => c.enableAccount(current!, desired));
          break;
        case 'DISABLE':
          await runtime.call('disable', () => c.disableAccount(current!, desired));
          break;
        case 'DELETE':
          await runtime.call('delete', () => c.deleteAccount(current!));
          break;
        case 'ADD_MEMBERSHIP':
          await runtime.call('add_membership', () => c.addGroupMembership(current!, step.group));
          break;
        case 'REMOVE_MEMBERSHIP':
          await runtime.call('remove_membership', () => c.removeGroupMembership(current!, step.group));
          break;
      }
      ops.push(operationOf(step));
    }
    await flushPatch();
  };

  let deferred: ConnectorError | undefined;
  try {
    account = prefetched !== undefined ? saw(prefetched) : await read(knownRef);
    let steps = planConvergence(desired, account, runtime.planOptions);
    // The plan puts a leaver's deprovisioning first; each of its steps is tried whatever the others do.
    const first: Step[] = [];
    while (desired.state === 'DISABLED' && steps.length > 0 && isDeprovisioning(steps[0]!)) first.push(steps.shift()!);
    if (first.length > 0 && account) {
      const before: TargetAccount = account;
      for (const step of first) {
        try {
          await execute([step]);
        } catch (e) {
          const err = toConnectorError(e);
          if (err.retriable) throw err;
          deferred ??= err;
        }
      }
      if (steps.length > 0) {
        const o = runtime.planOptions;
        // A disable that moves the entry (LDAP disable by move), or a failed step, leaves the account unknown: read it again.
        const moves = o.locationOf !== undefined && !(o.sameLocation ?? ((a, b) => a === b))(o.locationOf(desired, true), o.locationOf(desired, false));
        const removed = new Set(first.flatMap((s) => (s.type === 'REMOVE_MEMBERSHIP' ? [s.group] : [])));
        account = deferred || moves ? await read(before.ref) : { ...before, enabled: false, openSessions: false, groups: before.groups.filter((g) => !removed.has(g)) };
        steps = planConvergence(desired, account, runtime.planOptions).filter((s) => !isDeprovisioning(s));
      }
    }
    for (let round = 1; ; round++) {
      try {
        await execute(steps);
        break;
      } catch (e) {
        const err = toConnectorError(e);
        const step = attempting;
        if (err.code !== ConnectorErrorCode.AlreadyExists || (step !== 'CREATE' && step !== 'RENAME')) throw err;
        // Taken: by this person's account created or renamed meanwhile (converge from there), or by something the read cannot see.
        account = await read(account?.ref ?? knownRef);
        const again = planConvergence(desired, account, runtime.planOptions);
        if (round >= MAX_CONFLICT_ROUNDS || again.some((s) => s.type === step)) {
          throw new ConnectorError(
            ConnectorErrorCode.AlreadyExists,
            `${step === 'CREATE' ? 'creating' : 'renaming'} the account of person ${desired.personId} on target ${desired.target} failed: the name is taken by an object that is not this person's account as the connector finds it (for example a colliding DN or a uniqueness constraint on another attribute) — ${err.message}`,
            { cause: err },
          );
        }
        steps = again;
      }
    }
  } catch (e) {
    throw withPartial(withoutValues(e, personalValues(desired, ...seen)), ops, account, desired);
  }
  if (deferred) throw withPartial(withoutValues(deferred, personalValues(desired, ...seen)), ops, account, desired);
  return { status: ops.length > 0 ? 'APPLIED' : 'NO_CHANGE', operations: ops, accountRef: account?.ref ?? null };
}

function withPartial(err: ConnectorError, ops: TargetOperation[], account: TargetAccount | null, desired: DesiredAccount): ConnectorError {
  // Only this person's account is remembered (never the one of another person it collided with).
  const ref = account && account.owner === desired.personId ? account.ref : null;
  if (ops.length > 0 || ref !== null) partials.set(err, { operations: [...ops], accountRef: ref });
  return err;
}

function operationOf(step: Step): TargetOperation {
  switch (step.type) {
    case 'CLAIM':
      return { type: 'UPDATE', detail: 'owner' };
    case 'RENAME':
      return { type: 'RENAME', detail: null };
    case 'UPDATE':
      return { type: 'UPDATE', detail: Object.keys(step.attributes).sort().join(',') };
    case 'ADD_MEMBERSHIP':
    case 'REMOVE_MEMBERSHIP':
      return { type: step.type, detail: step.group };
    default:
      return { type: step.type, detail: null };
  }
}
