import { ConnectorError, ConnectorErrorCode, retryDelay, toConnectorError, type AccountLocator, type DesiredAccount, type TargetAccount } from '@provisio/connector-domain';
import type { ProvisioningCommand, ProvisioningResult, ResultStatus, TargetOperation } from '@provisio/contracts';
import { SpanKind, context, trace } from '@opentelemetry/api';
import { extractTraceContext, injectTraceContext, uuidv7, type ConsumeContext, type ConsumedMessage } from '@provisio/messaging';
import { failSpan, provisioningLatency, tracer, type Logger } from '@provisio/observability';
import { Database, isTransientDatabaseError } from '@provisio/persistence';
import { AppliedStateRepository, type AppliedRow } from './applied-state.repository.js';
import { KeyedMutex, forEachLimit, sleep } from './concurrency.js';
import { ConnectorMetrics } from './connector-metrics.js';
import { desiredFromCommand } from './command-parser.js';
import { converge } from './converger.js';
import type { ResultWriter } from './result-writer.js';
import type { TargetRegistry } from './target-registry.js';

/** Stops a batch whose partition was taken away (rebalance, shutdown); retriable so the runner leaves it uncommitted. */
class PartitionLost extends ConnectorError {
  constructor() {
    super(ConnectorErrorCode.Unavailable, 'partition revoked or consumer stopping; leaving the batch');
  }
}

export interface CommandProcessorOptions {
  /** Persons of one batch converged at the same time (each person's commands stay in order). */
  maxParallelPersons: number;
  /** Attempts for errors a connector did not classify, before they count as permanent. */
  unclassifiedAttempts?: number;
}

interface Item {
  message: ConsumedMessage<ProvisioningCommand>;
  command: ProvisioningCommand;
}

/**
 * The kit's command loop. A partition's batch is split by person; persons run concurrently
 * (bounded, and each target's own concurrency limit applies on top), every person's commands in
 * log order. Per command: skip versions older than the applied one, converge, record the applied
 * state and the result through the outbox in one transaction. Transient trouble is retried in
 * place with backoff and jitter (the consumer keeps heart-beating); permanent errors give a FAILED
 * result and a dead letter, and the batch moves on.
 */
export class CommandProcessor {
  readonly locks = new KeyedMutex();

  constructor(
    private readonly db: Database,
    private readonly applied: AppliedStateRepository,
    private readonly results: ResultWriter,
    private readonly targets: TargetRegistry,
    private readonly logger: Logger,
    private readonly options: CommandProcessorOptions = { maxParallelPersons: 64 },
  ) {}

  async processBatch(messages: ConsumedMessage<ProvisioningCommand>[], ctx: ConsumeContext): Promise<void> {
    // Long retries and slow targets must not cost the group membership.
    const heartbeat = setInterval(() => void ctx.heartbeat().catch(() => undefined), 1000);
    try {
      const items = messages.map((message) => ({ message, command: message.value }));
      const applied = await this.retryDatabase(ctx, () =>
        this.applied.load(
          this.db.sql,
          items.filter((i) => typeof i.command.personId === 'string' && typeof i.command.target === 'string').map((i) => ({ personId: i.command.personId, target: i.command.target })),
        ),
      );
      const prefetched = await this.prefetch(items, applied);
      const byPerson = new Map<string, Item[]>();
      for (const item of items) {
        const key = item.message.key ?? String(item.command.personId);
        byPerson.set(key, [...(byPerson.get(key) ?? []), item]);
      }
      await forEachLimit([...byPerson.values()], this.options.maxParallelPersons, async (list) => {
        for (const item of list) await this.processOne(item, applied, ctx, prefetched);
      });
    } finally {
      clearInterval(heartbeat);
    }
  }

  /**
   * One bulk read per target for the batch's accounts, when the connector can (readAccounts).
   * Each prefetched account serves its person's first command and first attempt only; anything
   * later reads afresh. A failing bulk read costs nothing: commands read one by one.
   */
  private async prefetch(items: Item[], applied: Map<string, AppliedRow>): Promise<Map<string, TargetAccount | null>> {
    const out = new Map<string, TargetAccount | null>();
    const byTarget = new Map<string, AccountLocator[]>();
    const seen = new Set<string>();
    for (const { command: c } of items) {
      let desired: DesiredAccount;
      try {
        desired = desiredFromCommand(c);
      } catch {
        continue;
      }
      const key = AppliedStateRepository.key(desired.personId, desired.target);
      if (seen.has(key) || !this.targets.get(desired.target)?.connector.readAccounts) continue;
      seen.add(key);
      const locators = byTarget.get(desired.target) ?? [];
      locators.push({ personId: desired.personId, accountName: desired.accountName, accountRef: applied.get(key)?.accountRef ?? null, desired });
      byTarget.set(desired.target, locators);
    }
    for (const [target, locators] of byTarget) {
      const runtime = this.targets.get(target)!;
      try {
        const found = await runtime.call('read_bulk', () => runtime.connector.readAccounts!(locators));
        for (const [personId, account] of found) out.set(AppliedStateRepository.key(personId, target), account);
      } catch (e) {
        this.logger.debug({ target, err: (e as Error).message }, 'bulk read failed; reading accounts one by one');
      }
    }
    return out;
  }

  /** Each command continues its own trace (the batch span only links them): one HR change stays one trace. */
  private async processOne(item: Item, applied: Map<string, AppliedRow>, ctx: ConsumeContext, prefetched: Map<string, TargetAccount | null> = new Map()): Promise<void> {
    const parent = extractTraceContext(item.message.headers);
    const span = tracer().startSpan(
      `converge ${String(item.command.target ?? '')}`,
      { kind: SpanKind.INTERNAL, attributes: { 'provisio.target': String(item.command.target ?? ''), 'provisio.command.version': Number(item.command.version) || 0, 'messaging.kafka.offset': Number(item.message.offset) } },
      parent,
    );
    try {
      await context.with(trace.setSpan(parent, span), () => this.processInTrace(item, applied, ctx, prefetched));
    } catch (e) {
      failSpan(span, e);
      throw e;
    } finally {
      span.end();
    }
  }

  private async processInTrace(item: Item, applied: Map<string, AppliedRow>, ctx: ConsumeContext, prefetched: Map<string, TargetAccount | null>): Promise<void> {
    const c = item.command;
    let desired: DesiredAccount;
    try {
      desired = desiredFromCommand(c);
    } catch (e) {
      await this.fail(item, null, toConnectorError(e), ctx);
      return;
    }
    const runtime = this.targets.get(desired.target);
    if (!runtime) {
      const known = this.targets.ids();
      await this.fail(item, desired, new ConnectorError(ConnectorErrorCode.UnknownTarget, `target "${desired.target}" is not configured in this connector (known: ${known.length ? known.join(', ') : 'none'})`), ctx);
      return;
    }
    const key = AppliedStateRepository.key(desired.personId, desired.target);
    const labels = { target: runtime.id, kind: runtime.kind };
    const row = applied.get(key);
    if (row && desired.version < row.version) {
      await this.settle(item, desired, 'SKIPPED_STALE', [], row.accountRef, null, ctx);
      ConnectorMetrics.commands.inc({ ...labels, status: 'SKIPPED_STALE' });
      return;
    }
    const untrack = runtime.track(typeof c.issuedAt === 'number' ? c.issuedAt : item.message.timestamp);
    const started = Date.now();
    try {
      await this.locks.run(key, async () => {
        for (let attempt = 1; ; attempt++) {
          if (!ctx.isActive()) throw new PartitionLost();
          try {
            const first = prefetched.has(key) ? prefetched.get(key) : undefined;
            prefetched.delete(key);
            const outcome = await converge(runtime, desired, row?.accountRef ?? null, first);
            await this.settle(item, desired, outcome.status, outcome.operations, outcome.accountRef, null, ctx);
            applied.set(key, { personId: desired.personId, target: desired.target, version: desired.version, accountRef: outcome.accountRef });
            ConnectorMetrics.commands.inc({ ...labels, status: outcome.status });
            return;
          } catch (e) {
            if (e instanceof PartitionLost) throw e;
            let err = toConnectorError(e);
            if (err.code === ConnectorErrorCode.Unclassified && attempt >= (this.options.unclassifiedAttempts ?? 5)) {
              err = new ConnectorError(ConnectorErrorCode.Rejected, `gave up after ${attempt} attempts: ${err.message}`, { cause: err });
            }
            if (!err.retriable) {
              await this.fail(item, desired, err, ctx);
              return;
            }
            ConnectorMetrics.retries.inc({ ...labels, error_class: err.errorClass });
            const delay = retryDelay(attempt, err.retryAfterMs, runtime.backoff);
            if (attempt === 1 || attempt % 20 === 0) {
              this.logger.warn({ target: desired.target, personId: desired.personId, version: desired.version, attempt, code: err.code, err: err.message, delayMs: delay }, 'command failed transiently; retrying');
            }
            await this.wait(delay, ctx);
          }
        }
      });
    } finally {
      untrack();
      ConnectorMetrics.commandDuration.observe(labels, (Date.now() - started) / 1000);
    }
  }

  private async wait(ms: number, ctx: ConsumeContext): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (!ctx.isActive()) throw new PartitionLost();
      await sleep(Math.min(200, until - Date.now()));
    }
  }

  /** FAILED result (when the command is readable enough to address one) and the dead letter. */
  private async fail(item: Item, desired: DesiredAccount | null, err: ConnectorError, ctx: ConsumeContext): Promise<void> {
    const runtime = desired ? this.targets.get(desired.target) : undefined;
    ConnectorMetrics.errors.inc({ target: String(item.command.target ?? ''), kind: runtime?.kind ?? String(item.command.targetKind ?? ''), error_class: 'permanent', code: err.code });
    ConnectorMetrics.commands.inc({ target: String(item.command.target ?? ''), kind: runtime?.kind ?? String(item.command.targetKind ?? ''), status: 'FAILED' });
    if (typeof item.command.personId === 'string' && item.command.personId !== '' && typeof item.command.commandId === 'string') {
      await this.settle(item, desired, 'FAILED', [], null, err, ctx);
    }
    await ctx.deadLetter(item.message, err);
  }

  private async settle(
    item: Item,
    desired: DesiredAccount | null,
    status: ResultStatus,
    operations: TargetOperation[],
    accountRef: string | null,
    error: ConnectorError | null,
    ctx: ConsumeContext,
  ): Promise<void> {
    const c = item.command;
    const now = Date.now();
    const result: ProvisioningResult = {
      resultId: uuidv7(now),
      commandId: c.commandId,
      personId: c.personId,
      target: String(c.target ?? ''),
      targetKind: String(c.targetKind ?? ''),
      version: typeof c.version === 'number' ? c.version : 0,
      status,
      operations,
      accountRef,
      error: error ? { code: error.code, message: error.message.slice(0, 1000), retriable: error.retriable } : null,
      hrEffectiveAt: c.hrEffectiveAt ?? null,
      appliedAt: now,
    };
    const appliedUpdate =
      desired && status !== 'SKIPPED_STALE' && (status !== 'FAILED' || this.targets.get(desired.target))
        ? {
            personId: desired.personId,
            target: desired.target,
            appliedVersion: status === 'APPLIED' || status === 'NO_CHANGE' ? desired.version : null,
            desired,
            accountRef,
            status,
            error: error ? `${error.code}: ${error.message}`.slice(0, 2000) : null,
          }
        : undefined;
    await this.retryDatabase(ctx, () => this.results.write({ result, traceHeaders: injectTraceContext({}), ...(appliedUpdate ? { applied: appliedUpdate } : {}) }));
    if (status === 'APPLIED' && c.hrEffectiveAt !== null && c.hrEffectiveAt !== undefined) {
      const kind = c.state === 'ACTIVE' ? 'provision' : 'deprovision';
      provisioningLatency().observe({ target: result.target, kind }, Math.max(0, now - c.hrEffectiveAt) / 1000);
    }
  }

  /** Our own database going away is transient too: wait for it rather than dead-letter good commands. */
  private async retryDatabase<T>(ctx: ConsumeContext, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!isTransientDatabaseError(e)) throw e;
        if (attempt === 1 || attempt % 20 === 0) this.logger.warn({ err: e, attempt }, 'database unavailable; retrying');
        await this.wait(retryDelay(attempt, undefined), ctx);
      }
    }
  }
}
