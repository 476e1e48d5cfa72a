import { EventTypes, Topics, type ProvisioningCommand, type ProvisioningResult } from '@provisio/contracts';
import { OutboxWriter, uuidv7 } from '@provisio/messaging';
import { provisioningLatency } from '@provisio/observability';
import { Database, quoteIdent } from '@provisio/persistence';
import type { Converger } from './converger.js';

/**
 * The kit's command loop for one target: skip versions older than the applied one, converge,
 * then record the applied version and the result (through the outbox) in one transaction. A
 * crash after the target write and before that commit replays the command, which converges to
 * "no change" — no duplicate account.
 */
export class CommandProcessor {
  private readonly table: string;

  constructor(
    private readonly db: Database,
    private readonly outbox: OutboxWriter,
    private readonly converger: Converger,
    schema: string,
  ) {
    this.table = `${quoteIdent(schema)}.applied_versions`;
  }

  async process(command: ProvisioningCommand): Promise<ProvisioningResult> {
    const applied = await this.db.sql.query<{ version: string }>(`SELECT version FROM ${this.table} WHERE person_id = $1 AND target = $2`, [
      command.personId,
      command.target,
    ]);
    const appliedVersion = Number(applied.rows[0]?.version ?? 0);
    if (command.version < appliedVersion) return this.report(command, { status: 'SKIPPED_STALE', operations: [], accountRef: null });
    const outcome = await this.converger.converge(command);
    return this.report(command, outcome);
  }

  private async report(command: ProvisioningCommand, outcome: Pick<ProvisioningResult, 'status' | 'operations' | 'accountRef'>): Promise<ProvisioningResult> {
    const now = Date.now();
    const result: ProvisioningResult = {
      resultId: uuidv7(now),
      commandId: command.commandId,
      personId: command.personId,
      target: command.target,
      targetKind: command.targetKind,
      version: command.version,
      status: outcome.status,
      operations: outcome.operations,
      accountRef: outcome.accountRef,
      error: null,
      hrEffectiveAt: command.hrEffectiveAt,
      appliedAt: now,
    };
    await this.db.transaction(async (tx) => {
      if (outcome.status !== 'SKIPPED_STALE') {
        await tx.sql.query(
          `INSERT INTO ${this.table} (person_id, target, version, account_name, account_ref, status) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (person_id, target) DO UPDATE SET version = GREATEST(${this.table}.version, EXCLUDED.version),
             account_name = EXCLUDED.account_name, account_ref = COALESCE(EXCLUDED.account_ref, ${this.table}.account_ref), status = EXCLUDED.status, updated_at = now()`,
          [command.personId, command.target, command.version, command.accountName, outcome.accountRef, outcome.status],
        );
      }
      await this.outbox.enqueue(tx.sql, [
        { id: result.resultId, topic: Topics.results, key: command.personId, aggregateType: 'person-target', type: EventTypes.result, schema: 'ProvisioningResult', value: result },
      ]);
    });
    if (outcome.status === 'APPLIED' && command.hrEffectiveAt !== null) {
      const kind = command.state === 'ACTIVE' ? 'provision' : 'deprovision';
      provisioningLatency().observe({ target: command.target, kind }, Math.max(0, now - command.hrEffectiveAt) / 1000);
    }
    return result;
  }
}
