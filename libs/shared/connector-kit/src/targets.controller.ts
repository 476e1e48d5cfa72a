import { BadRequestException, Body, ConflictException, Controller, Get, HttpCode, Inject, NotFoundException, Param, Post, Query, ServiceUnavailableException } from '@nestjs/common';
import { toConnectorError, type Page, type TargetGroup } from '@provisio/connector-domain';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequireScopes, Scopes, type Principal } from '@provisio/auth';
import { ReconcileConflict, Reconciler, type ReconcileMode, type RunSummary } from './reconciler.js';
import { TargetRegistry } from './target-registry.js';
import type { TargetRuntime, TargetStatus } from './target-runtime.js';

export const TARGET_REGISTRY = Symbol('TARGET_REGISTRY');
export const RECONCILER = Symbol('RECONCILER');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Targets of this connector: quarantine state, queue, and reconciliation (on demand and history). */
@ApiTags('targets')
@ApiBearerAuth()
@Controller('v1/targets')
export class TargetsController {
  constructor(
    @Inject(TARGET_REGISTRY) private readonly targets: TargetRegistry,
    @Inject(RECONCILER) private readonly reconciler: Reconciler,
  ) {}

  @Get()
  @RequireScopes(Scopes.connectorRead)
  @ApiOperation({ summary: 'Targets this connector serves, with quarantine state and queue' })
  list(): { kind: string; targets: TargetStatus[] } {
    return { kind: this.targets.kind, targets: this.targets.status() };
  }

  @Get(':target')
  @RequireScopes(Scopes.connectorRead)
  @ApiOperation({ summary: 'One target: quarantine state (circuit breaker), commands in flight, queue lag' })
  one(@Param('target') target: string): TargetStatus {
    return this.runtime(target).status();
  }

  @Get(':target/groups')
  @RequireScopes(Scopes.connectorRead)
  @ApiOperation({
    summary: 'Groups (or group roles) that exist on the target, one page at a time',
    description: 'What commands may name in `groups`: read from the target itself (through its rate limit, concurrency and breaker). `next` is the cursor of the following page, null at the end.',
  })
  async groups(@Param('target') target: string, @Query('cursor') cursor?: string, @Query('limit') limit?: string): Promise<Page<TargetGroup>> {
    const runtime = this.runtime(target);
    const n = limit === undefined ? 100 : Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw new BadRequestException(`limit = ${JSON.stringify(limit)}: must be an integer from 1 to 1000`);
    if (cursor !== undefined && (cursor.length === 0 || cursor.length > 1024)) throw new BadRequestException('cursor: must be the `next` value of the previous page');
    try {
      return await runtime.call('list groups', () => runtime.connector.listGroups(cursor ?? null, n));
    } catch (e) {
      const err = toConnectorError(e);
      if (err.retriable) throw new ServiceUnavailableException(`target ${target} did not answer: ${err.code}`);
      throw new BadRequestException(`target ${target} refused the listing: ${err.code}`);
    }
  }

  @Post(':target/reconciliations')
  @HttpCode(202)
  @RequireScopes(Scopes.connectorWrite)
  @ApiOperation({ summary: 'Start a reconciliation of the target now (mode report or correct; default: the target\'s configured mode)' })
  async start(@Param('target') target: string, @Body() body: { mode?: unknown } | undefined, @CurrentPrincipal() principal: Principal | undefined): Promise<RunSummary> {
    const runtime = this.runtime(target);
    const mode = body?.mode ?? runtime.config.reconcile.mode;
    if (mode !== 'report' && mode !== 'correct') throw new BadRequestException(`mode = ${JSON.stringify(mode)}: must be "report" or "correct"`);
    try {
      return await this.reconciler.start(target, mode as ReconcileMode, 'API', principal?.subject ?? null);
    } catch (e) {
      if (e instanceof ReconcileConflict) throw new ConflictException(e.message);
      throw e;
    }
  }

  @Get(':target/reconciliations')
  @RequireScopes(Scopes.connectorRead)
  @ApiOperation({ summary: 'Recent reconciliation runs of the target, newest first' })
  async runs(@Param('target') target: string, @Query('limit') limit?: string): Promise<{ runs: RunSummary[] }> {
    this.runtime(target);
    const n = limit === undefined ? 20 : Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 500) throw new BadRequestException(`limit = ${JSON.stringify(limit)}: must be an integer from 1 to 500`);
    return { runs: await this.reconciler.list(target, n) };
  }

  @Get(':target/reconciliations/:runId')
  @RequireScopes(Scopes.connectorRead)
  @ApiOperation({ summary: 'One reconciliation run: status, accounts scanned, drift by kind, corrections' })
  async run(@Param('target') target: string, @Param('runId') runId: string): Promise<RunSummary> {
    this.runtime(target);
    if (!UUID.test(runId)) throw new BadRequestException(`runId = ${JSON.stringify(runId)}: must be a UUID`);
    const run = await this.reconciler.get(target, runId);
    if (!run) throw new NotFoundException(`no reconciliation run ${runId} for target ${target}`);
    return run;
  }

  private runtime(target: string): TargetRuntime {
    const runtime = this.targets.get(target);
    if (!runtime) throw new NotFoundException(`target "${target}" is not configured in this connector (known: ${this.targets.ids().join(', ') || 'none'})`);
    return runtime;
  }
}
