import { ConnectorError, ConnectorErrorCode, personalValues, retryDelay, toConnectorError, withoutValues, type AccountLocator, type DesiredAccount, type TargetAccount } from '@provisio/connector-domain';
import { avroCodec, type ProvisioningCommand, type ProvisioningResult, type ResultStatus, type TargetOperation } from '@provisio/contracts';
import { SpanKind, context, trace, type Context } from '@opentelemetry/api';
import { deadLetterMessage, extractTraceContext, injectTraceContext, uuidv7, type ConsumeContext, type ConsumedMessage, type InboundRecord, type MessageBroker } from '@provisio/messaging';
import { failSpan, provisioningLatency, tracer, type Logger } from '@provisio/observability';
import { Database, isTransientDatabaseError, type SqlClient } from '@provisio/persistence';
import { AppliedStateRepository, type AppliedRow } from './applied-state.repository.js';
import { KeyedMutex, forEachLimit, sleep } from './concurrency.js';
import { ConnectorMetrics } from './connector-metrics.js';
import { desiredFromCommand } from './command-parser.js';
import { converge, partialOutcome, type PartialOutcome } from './converger.js';
import { ParkedCommandsRepository, type ParkedCommand } from './parked-commands.repository.js';
import type { ResultWriter, SettledCommand } from './result-writer.js';
import type { TargetRegistry } from './target-registry.js';
import type { TargetRuntime } from './target-runtime.js';
import { givenUpForThisCommand } from './give-up.js';

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

/** What one batch knows up front: applied versions, pairs with parked commands, prefetched accounts. */
interface BatchState {
  applied: Map<string, AppliedRow>;
  parked: Set<string>;
  prefetched: Map<string, TargetAccount | null>;
}

/** One step of draining a target's parked commands. */
export type DrainStep = { kind: 'done' } | { kind: 'empty' } | { kind: 'blocked'; error: ConnectorError };

/** Rolls a drain transaction back: the target failed transiently, the parked command stays. */
class DrainBlocked extends Error {
  constructor(readonly error: ConnectorError) {
    super(error.message);
  }
}

/**
 * The kit's command loop. A partition's batch is split by person; persons run concurrently
 * (bounded, and each target's own concurrency limit applies on top), every person's commands in
 * log order. Per command: skip versions older than the applied one, converge, record the applied
 * state and the result through the outbox in one transaction. Transient trouble is retried in
 * place with backoff and jitter (the consumer keeps heart-beating) while the target's breaker is
 * closed; once the target is quarantined its commands are parked in the database (behind any
 * parked command of the same person × target) and the batch moves on, so other targets never wait
 * for it. Permanent errors give a FAILED result and a dead letter, and the batch moves on.
 */
export class CommandProcessor {
  readonly locks = new KeyedMutex();
  /** Told when a command was parked (the drainer looks sooner). */
  onParked: (target: string) => void = () => undefined;
  private readonly drainAttempts = new Map<string, number>();

  constructor(
    private readonly db: Database,
    private readonly applied: AppliedStateRepository,
    private readonly results: ResultWriter,
    private readonly targets: TargetRegistry,
    private readonly logger: Logger,
    private readonly options: CommandProcessorOptions = { maxParallelPersons: 64 },
    private readonly parked?: ParkedCommandsRepository,
    private readonly broker?: MessageBroker,
  ) {}

  async processBatch(messages: ConsumedMessage<ProvisioningCommand>[], ctx: ConsumeContext): Promise<void> {
    // Long retries and slow targets must not cost the group membership.
    const heartbeat = setInterval(() => void ctx.heartbeat().catch(() => undefined), 1000);
    try {
      const items = messages.map((message) => ({ message, command: message.value }));
      const pairs = items.filter((i) => typeof i.command.personId === 'string' && typeof i.command.target === 'string').map((i) => ({ personId: i.command.personId, target: i.command.target }));
      const [applied, parked] = await this.retryDatabase(ctx, () =>
        Promise.all([this.applied.load(this.db.sql, pairs), this.parked ? this.parked.pendingKeys(this.db.sql, pairs) : Promise.resolve(new Set<string>())]),
      );
      const state: BatchState = { applied, parked, prefetched: await this.prefetch(items, applied, parked) };
      const byPerson = new Map<string, Item[]>();
      for (const item of items) {
        const key = item.message.key ?? String(item.command.personId);
        byPerson.set(key, [...(byPerson.get(key) ?? []), item]);
      }
      await forEachLimit([...byPerson.values()], this.options.maxParallelPersons, async (list) => {
        for (const item of list) await this.processOne(item, state, ctx);
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
  private async prefetch(items: Item[], applied: Map<string, AppliedRow>, parked: Set<string>): Promise<Map<string, TargetAccount | null>> {
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
      const runtime = this.targets.get(desired.target);
      // Commands that will be parked need no account.
      if (seen.has(key) || parked.has(key) || !runtime?.connector.readAccounts || !runtime.admitsCommands()) continue;
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
        this.logger.debug({ target, err: withoutValues(e, locators.flatMap((l) => personalValues(l.desired))).message }, 'bulk read failed; reading accounts one by one');
      }
    }
    return out;
  }

  /** Each command continues its own trace (the batch span only links them): one HR change stays one trace. */
  private async processOne(item: Item, state: BatchState, ctx: ConsumeContext): Promise<void> {
    const parent = extractTraceContext(item.message.headers);
    const span = tracer().startSpan(
      `converge ${String(item.command.target ?? '')}`,
      { kind: SpanKind.INTERNAL, attributes: { 'provisio.target': String(item.command.target ?? ''), 'provisio.command.version': Number(item.command.version) || 0, 'messaging.kafka.offset': Number(item.message.offset) } },
      parent,
    );
    try {
      await context.with(trace.setSpan(parent, span), () => this.processInTrace(item, state, ctx));
    } catch (e) {
      failSpan(span, e);
      throw e;
    } finally {
      span.end();
    }
  }

  private async processInTrace(item: Item, state: BatchState, ctx: ConsumeContext): Promise<void> {
    const { applied, prefetched } = state;
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
    // Behind parked commands of the same person × target, or the target is quarantined: park and move on.
    if (this.parked && (state.parked.has(key) || !runtime.admitsCommands())) {
      await this.park(item, desired, runtime, state, ctx);
      return;
    }
    const untrack = runtime.track(typeof c.issuedAt === 'number' ? c.issuedAt : item.message.timestamp);
    const started = Date.now();
    // Writes of earlier attempts (a create before a transient failure) and the ref they gave.
    const done: TargetOperation[] = [];
    let knownRef = row?.accountRef ?? null;
    try {
      await this.locks.run(key, async () => {
        for (let attempt = 1; ; attempt++) {
          if (!ctx.isActive()) throw new PartitionLost();
          try {
            const first = prefetched.has(key) ? prefetched.get(key) : undefined;
            prefetched.delete(key);
            const outcome = await converge(runtime, desired, knownRef, first);
            const operations = [...done, ...outcome.operations];
            const status = operations.length > 0 ? 'APPLIED' : outcome.status;
            await this.settle(item, desired, status, operations, outcome.accountRef, null, ctx);
            applied.set(key, { personId: desired.personId, target: desired.target, version: desired.version, accountRef: outcome.accountRef });
            ConnectorMetrics.commands.inc({ ...labels, status });
            return;
          } catch (e) {
            if (e instanceof PartitionLost) throw e;
            const partial = partialOutcome(e);
            if (partial) {
              done.push(...partial.operations);
              knownRef = partial.accountRef ?? knownRef;
            }
            let err = toConnectorError(e);
            if (err.code === ConnectorErrorCode.Unclassified && attempt >= (this.options.unclassifiedAttempts ?? 5)) {
              err = new ConnectorError(ConnectorErrorCode.Rejected, `gave up after ${attempt} attempts: ${err.message}`, { cause: err });
            }
            if (this.parked && !runtime.admitsCommands() && err.retriable) {
              // The target was quarantined while this command was tried: it waits in the database, not here.
              await this.park(item, desired, runtime, state, ctx);
              return;
            }
            err = givenUpForThisCommand(err, attempt, runtime);
            if (!err.retriable) {
              // The result tells what was written before the failure; the ref is kept so the next command reads by it.
              await this.fail(item, desired, err, ctx, { operations: done, accountRef: knownRef });
              if (knownRef !== null) applied.set(key, { personId: desired.personId, target: desired.target, version: row?.version ?? 0, accountRef: knownRef });
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
  private async fail(item: Item, desired: DesiredAccount | null, err: ConnectorError, ctx: ConsumeContext, partial?: PartialOutcome): Promise<void> {
    const runtime = desired ? this.targets.get(desired.target) : undefined;
    ConnectorMetrics.errors.inc({ target: String(item.command.target ?? ''), kind: runtime?.kind ?? String(item.command.targetKind ?? ''), error_class: 'permanent', code: err.code });
    ConnectorMetrics.commands.inc({ target: String(item.command.target ?? ''), kind: runtime?.kind ?? String(item.command.targetKind ?? ''), status: 'FAILED' });
    if (typeof item.command.personId === 'string' && item.command.personId !== '' && typeof item.command.commandId === 'string') {
      await this.settle(item, desired, 'FAILED', partial?.operations ?? [], partial?.accountRef ?? null, err, ctx);
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
    const settled = this.settled(item.command, desired, status, operations, accountRef, error, injectTraceContext({}));
    await this.retryDatabase(ctx, () => this.results.write(settled));
    this.observeLatency(item.command, settled.result);
  }

  /** The result of a command (and the applied state it changes) as the result writer takes it. */
  private settled(
    c: ProvisioningCommand,
    desired: DesiredAccount | null,
    status: ResultStatus,
    operations: TargetOperation[],
    accountRef: string | null,
    error: ConnectorError | null,
    traceHeaders: Record<string, string>,
  ): SettledCommand {
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
    return { result, traceHeaders, ...(appliedUpdate ? { applied: appliedUpdate } : {}) };
  }

  private observeLatency(c: ProvisioningCommand, result: ProvisioningResult): void {
    if (result.status === 'APPLIED' && c.hrEffectiveAt !== null && c.hrEffectiveAt !== undefined) {
      const kind = c.state === 'ACTIVE' ? 'provision' : 'deprovision';
      provisioningLatency().observe({ target: result.target, kind }, Math.max(0, result.appliedAt - c.hrEffectiveAt) / 1000);
    }
  }

  // ---- parking ---------------------------------------------------------------------------------

  /**
   * Stores the command for later (the drainer applies it once the target is back) in one
   * transaction with the SKIPPED_STALE results of the older parked versions it replaces; the
   * batch, and its offset, move on.
   */
  private async park(item: Item, desired: DesiredAccount, runtime: TargetRuntime, state: BatchState, ctx: ConsumeContext): Promise<void> {
    const parked = this.parked!;
    const c = item.command;
    const m = item.message;
    const record: InboundRecord = {
      topic: m.topic,
      partition: m.partition,
      offset: m.offset,
      key: m.key === null ? null : Buffer.from(m.key, 'utf8'),
      value: m.raw ?? avroCodec().encode('ProvisioningCommand', c),
      headers: m.headers,
      timestamp: m.timestamp,
    };
    const stale: SettledCommand[] = [];
    const outcome = await this.retryDatabase(ctx, () =>
      this.db.transaction(async (tx) => {
        stale.length = 0;
        const o = await parked.park(tx.sql, { target: desired.target, personId: desired.personId, version: desired.version, commandId: c.commandId, record, consumerGroup: ctx.groupId });
        for (const s of o.superseded) {
          const old = avroCodec().decode('ProvisioningCommand', s.record.value ?? Buffer.alloc(0));
          stale.push(this.settled(old, null, 'SKIPPED_STALE', [], null, null, s.record.headers));
        }
        // A newer version is parked already; the same command again (a redelivery) gets its result when applied.
        if (!o.parked && o.existing?.commandId !== c.commandId) stale.push(this.settled(c, null, 'SKIPPED_STALE', [], null, null, injectTraceContext({})));
        await this.results.writeIn(tx.sql, stale);
        return o;
      }),
    );
    const labels = { target: runtime.id, kind: runtime.kind };
    for (let i = 0; i < stale.length; i++) ConnectorMetrics.commands.inc({ ...labels, status: 'SKIPPED_STALE' });
    if (outcome.parked) {
      state.parked.add(AppliedStateRepository.key(desired.personId, desired.target));
      ConnectorMetrics.parkings.inc(labels);
      this.logger.debug({ target: desired.target, personId: desired.personId, version: desired.version, superseded: outcome.superseded.length }, 'command parked until the target is back');
      this.onParked(desired.target);
    }
  }

  /**
   * Applies the oldest free parked command of the target, in a transaction that holds its row
   * (FOR UPDATE SKIP LOCKED) until the result, the applied state and the row's removal commit
   * together. A transient failure rolls back and leaves the row for later.
   */
  async drainNext(runtime: TargetRuntime): Promise<DrainStep> {
    const parked = this.parked;
    if (!parked) return { kind: 'empty' };
    let after: (() => void) | undefined;
    try {
      const step = await this.db.transaction(async (tx): Promise<DrainStep> => {
        const p = await parked.claimNext(tx.sql, runtime.id);
        if (!p) return { kind: 'empty' };
        after = await this.applyParked(tx.sql, runtime, p);
        return { kind: 'done' };
      });
      after?.();
      return step;
    } catch (e) {
      if (e instanceof DrainBlocked) return { kind: 'blocked', error: e.error };
      throw e;
    }
  }

  /** Converges one parked command inside the drain transaction; returns what to record once it committed. */
  private async applyParked(sql: SqlClient, runtime: TargetRuntime, p: ParkedCommand): Promise<() => void> {
    const labels = { target: runtime.id, kind: runtime.kind };
    const command = avroCodec().decode('ProvisioningCommand', p.record.value ?? Buffer.alloc(0));
    const parent = extractTraceContext(p.record.headers);
    let desired: DesiredAccount;
    try {
      desired = desiredFromCommand(command);
    } catch (e) {
      return this.failParked(sql, runtime, p, command, null, toConnectorError(e));
    }
    const key = AppliedStateRepository.key(desired.personId, desired.target);
    return this.locks.run(key, async () => {
      const row = (await this.applied.load(sql, [{ personId: desired.personId, target: desired.target }])).get(key);
      if (row && desired.version < row.version) {
        await this.results.writeIn(sql, [this.settled(command, desired, 'SKIPPED_STALE', [], row.accountRef, null, p.record.headers)]);
        await this.parked!.remove(sql, p.id);
        return () => ConnectorMetrics.commands.inc({ ...labels, status: 'SKIPPED_STALE' });
      }
      const started = Date.now();
      try {
        const outcome = await this.inSpan(parent, runtime, desired, p, () => converge(runtime, desired, row?.accountRef ?? null));
        const settled = this.settled(command, desired, outcome.status, outcome.operations, outcome.accountRef, null, p.record.headers);
        await this.results.writeIn(sql, [settled]);
        await this.parked!.remove(sql, p.id);
        return () => {
          this.drainAttempts.delete(p.id);
          ConnectorMetrics.commands.inc({ ...labels, status: outcome.status });
          ConnectorMetrics.commandDuration.observe(labels, (Date.now() - started) / 1000);
          this.observeLatency(command, settled.result);
        };
      } catch (e) {
        let err = toConnectorError(e);
        const attempts = (this.drainAttempts.get(p.id) ?? 0) + 1;
        if (err.code === ConnectorErrorCode.Unclassified && attempts >= (this.options.unclassifiedAttempts ?? 5)) {
          err = new ConnectorError(ConnectorErrorCode.Rejected, `gave up after ${attempts} attempts: ${err.message}`, { cause: err });
        }
        err = givenUpForThisCommand(err, attempts, runtime);
        if (err.retriable) {
          this.drainAttempts.set(p.id, attempts);
          ConnectorMetrics.retries.inc({ ...labels, error_class: err.errorClass });
          throw new DrainBlocked(err);
        }
        const partial = partialOutcome(e);
        return this.failParked(sql, runtime, p, command, desired, err, partial ? { ...partial, accountRef: partial.accountRef ?? row?.accountRef ?? null } : undefined);
      }
    });
  }

  private async inSpan<T>(parent: Context, runtime: TargetRuntime, desired: DesiredAccount, p: ParkedCommand, fn: () => Promise<T>): Promise<T> {
    const span = tracer().startSpan(
      `converge ${runtime.id}`,
      { kind: SpanKind.INTERNAL, attributes: { 'provisio.target': runtime.id, 'provisio.command.version': desired.version, 'provisio.command.parked': true, 'messaging.kafka.offset': Number(p.record.offset) } },
      parent,
    );
    try {
      return await context.with(trace.setSpan(parent, span), fn);
    } catch (e) {
      failSpan(span, e);
      throw e;
    } finally {
      span.end();
    }
  }

  /** A parked command that cannot be applied: its dead letter (the record as consumed), then the FAILED result. */
  private async failParked(
    sql: SqlClient,
    runtime: TargetRuntime,
    p: ParkedCommand,
    command: ProvisioningCommand,
    desired: DesiredAccount | null,
    err: ConnectorError,
    partial?: PartialOutcome,
  ): Promise<() => void> {
    if (!this.broker) throw new Error('dead-lettering a parked command needs the message broker');
    // Sent before the transaction commits: a failed commit sends it again (at least once, as for consumed records).
    await this.broker.send([deadLetterMessage(p.record, err, (this.drainAttempts.get(p.id) ?? 0) + 1, p.consumerGroup)]);
    const settled = typeof command.personId === 'string' && command.personId !== '' && typeof command.commandId === 'string' ? [this.settled(command, desired, 'FAILED', partial?.operations ?? [], partial?.accountRef ?? null, err, p.record.headers)] : [];
    await this.results.writeIn(sql, settled);
    await this.parked!.remove(sql, p.id);
    return () => {
      this.drainAttempts.delete(p.id);
      ConnectorMetrics.errors.inc({ target: runtime.id, kind: runtime.kind, error_class: 'permanent', code: err.code });
      ConnectorMetrics.commands.inc({ target: runtime.id, kind: runtime.kind, status: 'FAILED' });
      this.logger.error({ target: runtime.id, personId: p.personId, version: p.version, code: err.code, err: err.message }, 'parked command failed permanently; dead-lettered');
    };
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
