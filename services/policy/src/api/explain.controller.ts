import { Controller, Get, Inject, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { RequireScopes, Scopes } from '@provisio/auth';
import { Database } from '@provisio/persistence';
import { JobScheduler } from '@provisio/scheduler';
import { PolicyEngine, REEVALUATE_JOB } from '../engine/policy-engine.js';
import { PERSON_STATE } from '../engine/tokens.js';
import type { PersonStateRepository } from '../engine/person-state.repository.js';
import { PolicyApiError } from '../policy/policy-api-error.js';
import { PolicyStore } from '../policy/policy-store.js';

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

@ApiTags('explain')
@ApiBearerAuth()
@Controller('v1/persons')
export class ExplainController {
  constructor(
    private readonly db: Database,
    private readonly store: PolicyStore,
    private readonly engine: PolicyEngine,
    private readonly scheduler: JobScheduler,
    @Inject(PERSON_STATE) private readonly persons: PersonStateRepository,
  ) {}

  @Get(':personId/explain')
  @RequireScopes(Scopes.policyRead)
  @ApiOperation({
    summary: 'Why a person has what they have',
    description:
      'For each target: in scope or not and why (the scope condition with the facts it read), the account state and the lifecycle rule behind it, ' +
      'each group with the birthright rule, role path or manual assignment that grants it, each attribute with its expression and the HR facts used, ' +
      'the policy version, the last command sent and what the target applied; SoD findings; pending timed actions. ' +
      'This evaluates the current state now; the explanation as it was when a command was issued is the PolicyDecision (policy.decisions) that the command names in cause.decisionId, in the audit timeline.',
  })
  @ApiResponse({ status: 404, description: 'The policy service has never seen this person' })
  async explain(@Param('personId') personId: string): Promise<unknown> {
    const sql = this.db.sql;
    const state = (await this.persons.load(sql, [personId], { lock: false })).get(personId);
    if (!state) throw new PolicyApiError('PERSON_NOT_FOUND', `no person ${personId} is known to the policy service`, 404);
    const active = await this.store.active(sql);
    if (!active) throw new PolicyApiError('NO_ACTIVE_POLICY', 'no policy version is active', 404);
    const now = Date.now();
    const e = this.engine.evaluate(active.policy, state, now, null, true);
    const jobs = (await this.scheduler.pending(sql, { kind: REEVALUATE_JOB, keyPrefix: personId })).filter((j) => j.key === personId);
    return {
      personId,
      policyVersion: active.version,
      evaluatedAt: iso(now),
      phase: e.phase,
      lifecycle: {
        startAt: iso(state.record.startAt),
        terminatedAt: iso(state.record.terminatedAt),
        lastEvent: state.record.lastKind,
        lastEventRecordedAt: iso(state.record.lastRecordedAt),
      },
      facts: state.record.attributes,
      rules: e.rules,
      roles: e.roles,
      targets: e.targets.map((t) => {
        const sent = state.targets[t.target];
        return {
          target: t.target,
          kind: t.kind,
          inScope: t.inScope,
          scope: t.scopeTrace,
          entitled: t.entitled,
          accountGrantedBy: t.accountSources,
          reason: t.reason,
          error: t.error,
          desired: t.desired && { state: t.desired.state, accountName: t.desired.accountName },
          groups: t.groups,
          attributes: t.attributes,
          graceUntil: Object.fromEntries(Object.entries(t.memory.retained).map(([k, v]) => [k, iso(v)])),
          lastCommand: sent ? { version: sent.version, state: sent.desired?.state ?? null, policyVersion: sent.policyVersion } : null,
          applied: sent ? { version: sent.appliedVersion, status: sent.lastStatus, error: sent.lastError } : null,
        };
      }),
      violations: e.violations,
      manualAssignments: state.manual.map((m) => ({ ...m, expiresAt: iso(m.expiresAt) })),
      sodExceptions: state.exceptions.map((x) => ({ ...x, expiresAt: iso(x.expiresAt) })),
      pendingActions: e.actions.map((a) => ({ ...a, at: iso(a.at) })),
      nextEvaluationAt: iso(jobs[0]?.dueAt.getTime() ?? state.nextEvaluationAt),
    };
  }
}
