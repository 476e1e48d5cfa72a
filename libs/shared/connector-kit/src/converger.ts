import { planConvergence, type AccountPatch, type DesiredAccount, type Step, type TargetAccount } from '@provisio/connector-domain';
import type { TargetOperation } from '@provisio/contracts';
import type { TargetRuntime } from './target-runtime.js';

export interface ConvergeOutcome {
  status: 'APPLIED' | 'NO_CHANGE';
  operations: TargetOperation[];
  accountRef: string | null;
}

/**
 * Read → compare → write only the difference, through the target's runtime (quarantine, rate
 * limit, timeouts). Safe to run again with the same desired state at any point: a crash after a
 * write and before the result was recorded converges to "no change" on replay.
 */
export async function converge(runtime: TargetRuntime, desired: DesiredAccount, knownRef: string | null, prefetched?: TargetAccount | null): Promise<ConvergeOutcome> {
  const c = runtime.connector;
  let account: TargetAccount | null =
    prefetched !== undefined ? prefetched : await runtime.call('read', () => c.readAccount({ personId: desired.personId, accountName: desired.accountName, accountRef: knownRef, desired }));
  const steps = planConvergence(desired, account, runtime.planOptions);
  const ops: TargetOperation[] = [];
  let patch: AccountPatch | undefined;
  const flushPatch = async () => {
    if (!patch || !account) return;
    const p = patch;
    const current = account;
    patch = undefined;
    account = await runtime.call('update', () => c.updateAccount(current, p, desired));
  };
  for (const step of steps) {
    if (step.type === 'CLAIM' || step.type === 'RENAME' || step.type === 'UPDATE') {
      patch ??= {};
      if (step.type === 'CLAIM') patch.owner = desired.personId;
      if (step.type === 'RENAME') patch.name = step.to;
      if (step.type === 'UPDATE') patch.attributes = step.attributes;
      ops.push(operationOf(step));
      continue;
    }
    await flushPatch();
    const current = account;
    switch (step.type) {
      case 'CREATE':
        account = await runtime.call('create', () => c.createAccount(desired));
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
  return { status: ops.length > 0 ? 'APPLIED' : 'NO_CHANGE', operations: ops, accountRef: account?.ref ?? null };
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
