import type { ProvisioningCommand, ResultStatus, TargetOperation } from '@provisio/contracts';

export interface ConvergeOutcome {
  status: Extract<ResultStatus, 'APPLIED' | 'NO_CHANGE' | 'NOT_IMPLEMENTED'>;
  operations: TargetOperation[];
  accountRef: string | null;
}

/**
 * Makes one target match one command's desired state: read, compare, write only the
 * difference. Must be idempotent: the kit may call it again with the same command after a
 * crash. Throw errors with `retriable: true` for transient trouble (target down, 429, timeout)
 * and `retriable: false` for bad data the target refuses.
 */
export interface Converger {
  converge(command: ProvisioningCommand): Promise<ConvergeOutcome>;
}

/** For target kinds whose connector exists but does not act yet. */
export class NotImplementedConverger implements Converger {
  async converge(): Promise<ConvergeOutcome> {
    return { status: 'NOT_IMPLEMENTED', operations: [], accountRef: null };
  }
}
