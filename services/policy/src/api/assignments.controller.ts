import { Body, Controller, Delete, Get, HttpCode, Inject, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequireScopes, Scopes, type Principal } from '@provisio/auth';
import { Database, quoteIdent } from '@provisio/persistence';
import { randomUUID } from 'node:crypto';
import type { CompiledPolicy, ConditionTrace } from '@provisio/policy-domain';
import { z } from 'zod';
import type { PolicyConfig } from '../config.js';
import { LiveWork } from '../engine/live-work.js';
import { PolicyEngine } from '../engine/policy-engine.js';
import { PERSON_STATE, POLICY_CONFIG } from '../engine/tokens.js';
import type { PersonStateRepository } from '../engine/person-state.repository.js';
import { PolicyApiError } from '../policy/policy-api-error.js';
import { PolicyStore } from '../policy/policy-store.js';
import { isoInstant, parse } from './http.js';
import { changePerson } from './person-changes.js';
import { actorOf } from './principal.js';

const createBody = z
  .object({
    role: z.string().min(1).max(128).optional().describe('A role of the active policy'),
    target: z.string().min(1).max(128).optional().describe('Or a target: its account, plus a group when given'),
    group: z.string().min(1).max(1024).optional(),
    reason: z.string().trim().min(3).max(2000),
    expiresAt: isoInstant.optional().describe('ISO-8601 instant; the assignment is removed then'),
  })
  .strict()
  .refine((b) => (b.role === undefined) !== (b.target === undefined), { message: 'give either role or target', path: ['role'] })
  .refine((b) => b.group === undefined || b.target !== undefined, { message: 'group needs a target', path: ['group'] });
const revokeBody = z.object({ reason: z.string().trim().min(3).max(2000) }).strict();
const listQuery = z.object({
  personId: z.string().min(1).max(256).optional(),
  status: z.enum(['active', 'revoked', 'expired']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

interface Row {
  id: string;
  person_id: string;
  role: string | null;
  target: string | null;
  group_name: string | null;
  reason: string;
  expires_at: Date | null;
  status: string;
  created_by: string;
  created_at: Date;
  ended_by: string | null;
  ended_reason: string | null;
  ended_at: Date | null;
}

const view = (r: Row) => ({
  id: r.id,
  personId: r.person_id,
  role: r.role,
  target: r.target,
  group: r.group_name,
  reason: r.reason,
  expiresAt: r.expires_at?.toISOString() ?? null,
  status: r.status,
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
  endedBy: r.ended_by,
  endedReason: r.ended_reason,
  endedAt: r.ended_at?.toISOString() ?? null,
});

@ApiTags('manual assignments')
@ApiBearerAuth()
@Controller('v1')
export class AssignmentsController {
  private readonly table: string;

  constructor(
    private readonly db: Database,
    private readonly store: PolicyStore,
    private readonly engine: PolicyEngine,
    private readonly live: LiveWork,
    @Inject(PERSON_STATE) private readonly persons: PersonStateRepository,
    @Inject(POLICY_CONFIG) config: PolicyConfig,
  ) {
    this.table = `${quoteIdent(config.DATABASE_SCHEMA)}.manual_assignments`;
  }

  @Post('persons/:personId/assignments')
  @RequireScopes(Scopes.policyWrite)
  @ApiOperation({
    summary: 'Grant a role, or an account / group on a target, to a person with a reason and an optional expiry; provisioned at once, removed at expiry',
  })
  @ApiBody({ schema: z.toJSONSchema(createBody, { io: 'input' }) as Record<string, unknown> })
  @ApiResponse({ status: 201, description: 'Granted' })
  @ApiResponse({ status: 400, description: 'Invalid body, unknown role or target, expiry in the past' })
  @ApiResponse({ status: 404, description: 'Unknown person' })
  async create(@Param('personId') personId: string, @Body() body: unknown, @CurrentPrincipal() principal: Principal | undefined): Promise<unknown> {
    const b = parse(createBody, body, 'body');
    if (b.expiresAt !== undefined && b.expiresAt <= Date.now()) throw new PolicyApiError('INVALID_REQUEST', 'expiresAt must be in the future', 400);
    const active = await this.store.active(this.db.sql);
    if (!active) throw new PolicyApiError('NO_ACTIVE_POLICY', 'no policy version is active', 409);
    if (b.role !== undefined && !active.policy.roles.has(b.role))
      throw new PolicyApiError('UNKNOWN_REFERENCE', `role '${b.role}' does not exist in policy version ${active.version}`, 400);
    if (b.target !== undefined && !active.policy.targetById.has(b.target))
      throw new PolicyApiError('UNKNOWN_REFERENCE', `target '${b.target}' does not exist in policy version ${active.version}`, 400);
    await this.requireInScope(personId, active, b);
    const actor = actorOf(principal);
    const id = randomUUID();
    const row = await changePerson({ db: this.db, live: this.live, engine: this.engine, persons: this.persons }, personId, 'manual-assignment', async (sql) => {
      const r = await sql.query<Row>(
        `INSERT INTO ${this.table} (id, person_id, role, target, group_name, reason, expires_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
        [id, personId, b.role ?? null, b.target ?? null, b.group ?? null, b.reason, b.expiresAt === undefined ? null : new Date(b.expiresAt), actor],
      );
      await this.store.change(
        sql,
        'ASSIGNMENT_GRANTED',
        active.version,
        actor,
        b.reason,
        { role: b.role ?? null, target: b.target ?? null, group: b.group ?? null, expiresAt: b.expiresAt ?? null },
        { personId, subjectId: id },
      );
      return r.rows[0]!;
    });
    return view(row);
  }

  /**
   * An assignment must provision something: a target assignment needs the person in the target's
   * scope, a role assignment in the scope of at least one target the role grants on. Manual
   * assignments do not override scoping (scope says who may have an account at all).
   */
  private async requireInScope(personId: string, active: { version: number; policy: CompiledPolicy }, b: { role?: string; target?: string }): Promise<void> {
    const state = (await this.persons.load(this.db.sql, [personId], { lock: false })).get(personId);
    if (!state) throw new PolicyApiError('PERSON_NOT_FOUND', `no person ${personId} is known to the policy service`, 404);
    const e = this.engine.evaluate(active.policy, state, Date.now(), null, true);
    const targets =
      b.target !== undefined
        ? [b.target]
        : [...new Set((active.policy.roles.get(b.role!)?.closure ?? []).flatMap((r) => [...(active.policy.roles.get(r)?.entitlements.keys() ?? [])]))].sort();
    const decisions = e.targets.filter((t) => targets.includes(t.target));
    if (decisions.length === 0 || decisions.some((t) => t.inScope)) return;
    const why = decisions.map((t) => `target '${t.target}': ${scopeReason(t.scopeTrace ?? [])}`).join('; ');
    throw new PolicyApiError(
      'OUT_OF_SCOPE',
      b.target !== undefined
        ? `person ${personId} is out of scope for ${why}; a manual assignment cannot grant an account there`
        : `role '${b.role!}' grants only on targets person ${personId} is out of scope for (${why}); the assignment would provision nothing`,
      422,
      [],
      { targets: decisions.map((t) => ({ target: t.target, inScope: false, scope: t.scopeTrace ?? [] })) },
    );
  }

  @Get('persons/:personId/assignments')
  @RequireScopes(Scopes.policyRead)
  @ApiOperation({ summary: "A person's manual assignments (all statuses)" })
  async forPerson(@Param('personId') personId: string): Promise<unknown> {
    const r = await this.db.sql.query<Row>(`SELECT * FROM ${this.table} WHERE person_id = $1 ORDER BY created_at DESC`, [personId]);
    return { assignments: r.rows.map(view) };
  }

  @Get('assignments')
  @RequireScopes(Scopes.policyRead)
  @ApiOperation({ summary: 'Manual assignments, newest first' })
  @ApiQuery({ name: 'personId', required: false })
  @ApiQuery({ name: 'status', required: false, enum: ['active', 'revoked', 'expired'] })
  @ApiQuery({ name: 'limit', required: false })
  async list(@Query() query: unknown): Promise<unknown> {
    const q = parse(listQuery, query, 'query');
    const r = await this.db.sql.query<Row>(
      `SELECT * FROM ${this.table} WHERE ($1::text IS NULL OR person_id = $1) AND ($2::text IS NULL OR status = $2) ORDER BY created_at DESC LIMIT $3`,
      [q.personId ?? null, q.status ?? null, q.limit],
    );
    return { assignments: r.rows.map(view) };
  }

  @Delete('assignments/:id')
  @HttpCode(200)
  @RequireScopes(Scopes.policyWrite)
  @ApiOperation({ summary: 'Revoke a manual assignment (with a reason); access goes at once' })
  @ApiBody({ schema: z.toJSONSchema(revokeBody) as Record<string, unknown> })
  @ApiResponse({ status: 404, description: 'No active assignment with this id' })
  async revoke(@Param('id', new ParseUUIDPipe()) id: string, @Body() body: unknown, @CurrentPrincipal() principal: Principal | undefined): Promise<unknown> {
    const { reason } = parse(revokeBody, body, 'body');
    const found = await this.db.sql.query<Row>(`SELECT * FROM ${this.table} WHERE id = $1 AND status = 'active'`, [id]);
    const a = found.rows[0];
    if (!a) throw new PolicyApiError('NOT_FOUND', `no active assignment ${id}`, 404);
    const actor = actorOf(principal);
    const row = await changePerson(
      { db: this.db, live: this.live, engine: this.engine, persons: this.persons },
      a.person_id,
      'manual-assignment',
      async (sql) => {
        const r = await sql.query<Row>(
          `UPDATE ${this.table} SET status = 'revoked', ended_by = $2, ended_reason = $3, ended_at = now() WHERE id = $1 AND status = 'active' RETURNING *`,
          [id, actor, reason],
        );
        if (!r.rows[0]) throw new PolicyApiError('CONFLICT', `assignment ${id} ended meanwhile`, 409);
        await this.store.change(
          sql,
          'ASSIGNMENT_REVOKED',
          null,
          actor,
          reason,
          { role: a.role, target: a.target, group: a.group_name },
          { personId: a.person_id, subjectId: id },
        );
        return r.rows[0];
      },
    );
    return view(row);
  }
}

/** The comparisons that made a scope condition false, e.g. `workerType equals "employee" (is "contractor")`. */
export function scopeReason(trace: ConditionTrace[]): string {
  const failed: string[] = [];
  // Called for a node whose result is not the wanted one; a comparison under a `not` was wanted false.
  const walk = (t: ConditionTrace, want: boolean): void => {
    if (t.op === 'not') {
      for (const c of t.children ?? []) walk(c, !want);
    } else if (t.children) {
      for (const c of t.children) if (c.result !== want) walk(c, want);
    } else {
      const what = t.attribute === undefined ? t.op : `${t.attribute} ${t.op} ${JSON.stringify(t.expected ?? null)} (is ${JSON.stringify(t.actual ?? null)})`;
      failed.push(want ? what : `not ${what}`);
    }
  };
  for (const t of trace) if (!t.result) walk(t, true);
  return failed.length > 0 ? `scope condition not met: ${failed.join(', ')}` : 'scope condition not met';
}
