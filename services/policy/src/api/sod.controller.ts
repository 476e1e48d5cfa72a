import { Body, Controller, Delete, Get, HttpCode, Inject, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequireScopes, Scopes, type Principal } from '@provisio/auth';
import { Database, quoteIdent } from '@provisio/persistence';
import { randomUUID } from 'node:crypto';
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

const MAX_EXCEPTION_DAYS = 366;
const createBody = z
  .object({
    personId: z.string().min(1).max(256),
    ruleId: z.string().min(1).max(128),
    approver: z.string().trim().min(1).max(256).describe('Who approved the exception (not the person concerned)'),
    reason: z.string().trim().min(3).max(2000),
    expiresAt: isoInstant.describe(`ISO-8601 instant, at most ${MAX_EXCEPTION_DAYS} days ahead`),
  })
  .strict();
const revokeBody = z.object({ reason: z.string().trim().min(3).max(2000) }).strict();
const listQuery = z.object({
  personId: z.string().min(1).max(256).optional(),
  status: z.enum(['active', 'revoked', 'expired']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

interface Row {
  id: string;
  person_id: string;
  rule_id: string;
  approver: string;
  reason: string;
  expires_at: Date;
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
  ruleId: r.rule_id,
  approver: r.approver,
  reason: r.reason,
  expiresAt: r.expires_at.toISOString(),
  status: r.status,
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
  endedBy: r.ended_by,
  endedReason: r.ended_reason,
  endedAt: r.ended_at?.toISOString() ?? null,
});

@ApiTags('segregation of duties')
@ApiBearerAuth()
@Controller('v1/sod')
export class SodController {
  private readonly s: string;

  constructor(
    private readonly db: Database,
    private readonly store: PolicyStore,
    private readonly engine: PolicyEngine,
    private readonly live: LiveWork,
    @Inject(PERSON_STATE) private readonly persons: PersonStateRepository,
    @Inject(POLICY_CONFIG) config: PolicyConfig,
  ) {
    this.s = quoteIdent(config.DATABASE_SCHEMA);
  }

  @Post('exceptions')
  @RequireScopes(Scopes.policyWrite)
  @ApiOperation({ summary: 'Allow a person a conflicting combination under one SoD rule, with approver, reason and expiry' })
  @ApiBody({ schema: z.toJSONSchema(createBody, { io: 'input' }) as Record<string, unknown> })
  @ApiResponse({ status: 201, description: 'Granted; the person is re-evaluated at once and again at expiry' })
  @ApiResponse({ status: 400, description: 'Invalid body, unknown rule, self-approval, expiry out of range' })
  async create(@Body() body: unknown, @CurrentPrincipal() principal: Principal | undefined): Promise<unknown> {
    const b = parse(createBody, body, 'body');
    const now = Date.now();
    if (b.expiresAt <= now || b.expiresAt > now + MAX_EXCEPTION_DAYS * 86_400_000)
      throw new PolicyApiError('INVALID_REQUEST', `expiresAt must be in the future and at most ${MAX_EXCEPTION_DAYS} days ahead`, 400);
    if (b.approver === b.personId) throw new PolicyApiError('INVALID_REQUEST', 'a person cannot approve their own exception', 400);
    const active = await this.store.active(this.db.sql);
    if (!active) throw new PolicyApiError('NO_ACTIVE_POLICY', 'no policy version is active', 409);
    if (!active.policy.sod.some((r) => r.id === b.ruleId))
      throw new PolicyApiError('UNKNOWN_REFERENCE', `SoD rule '${b.ruleId}' does not exist in policy version ${active.version}`, 400);
    const actor = actorOf(principal);
    const id = randomUUID();
    const row = await changePerson({ db: this.db, live: this.live, engine: this.engine, persons: this.persons }, b.personId, 'sod-exception', async (sql) => {
      const r = await sql.query<Row>(
        `INSERT INTO ${this.s}.sod_exceptions (id, person_id, rule_id, approver, reason, expires_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
        [id, b.personId, b.ruleId, b.approver, b.reason, new Date(b.expiresAt), actor],
      );
      await this.store.change(
        sql,
        'EXCEPTION_GRANTED',
        active.version,
        actor,
        b.reason,
        { ruleId: b.ruleId, approver: b.approver, expiresAt: b.expiresAt },
        { personId: b.personId, subjectId: id },
      );
      return r.rows[0]!;
    });
    return view(row);
  }

  @Get('exceptions')
  @RequireScopes(Scopes.policyRead)
  @ApiOperation({ summary: 'SoD exceptions, newest first' })
  @ApiQuery({ name: 'personId', required: false })
  @ApiQuery({ name: 'status', required: false, enum: ['active', 'revoked', 'expired'] })
  async list(@Query() query: unknown): Promise<unknown> {
    const q = parse(listQuery, query, 'query');
    const r = await this.db.sql.query<Row>(
      `SELECT * FROM ${this.s}.sod_exceptions WHERE ($1::text IS NULL OR person_id = $1) AND ($2::text IS NULL OR status = $2) ORDER BY created_at DESC LIMIT $3`,
      [q.personId ?? null, q.status ?? null, q.limit],
    );
    return { exceptions: r.rows.map(view) };
  }

  @Delete('exceptions/:id')
  @HttpCode(200)
  @RequireScopes(Scopes.policyWrite)
  @ApiOperation({ summary: 'Revoke an SoD exception; the conflict is prevented or flagged again at once' })
  @ApiBody({ schema: z.toJSONSchema(revokeBody) as Record<string, unknown> })
  async revoke(@Param('id', new ParseUUIDPipe()) id: string, @Body() body: unknown, @CurrentPrincipal() principal: Principal | undefined): Promise<unknown> {
    const { reason } = parse(revokeBody, body, 'body');
    const found = await this.db.sql.query<Row>(`SELECT * FROM ${this.s}.sod_exceptions WHERE id = $1 AND status = 'active'`, [id]);
    const x = found.rows[0];
    if (!x) throw new PolicyApiError('NOT_FOUND', `no active SoD exception ${id}`, 404);
    const actor = actorOf(principal);
    const row = await changePerson({ db: this.db, live: this.live, engine: this.engine, persons: this.persons }, x.person_id, 'sod-exception', async (sql) => {
      const r = await sql.query<Row>(
        `UPDATE ${this.s}.sod_exceptions SET status = 'revoked', ended_by = $2, ended_reason = $3, ended_at = now() WHERE id = $1 AND status = 'active' RETURNING *`,
        [id, actor, reason],
      );
      if (!r.rows[0]) throw new PolicyApiError('CONFLICT', `exception ${id} ended meanwhile`, 409);
      await this.store.change(sql, 'EXCEPTION_REVOKED', null, actor, reason, { ruleId: x.rule_id }, { personId: x.person_id, subjectId: id });
      return r.rows[0];
    });
    return view(row);
  }

  @Get('violations')
  @RequireScopes(Scopes.policyRead)
  @ApiOperation({ summary: 'Current SoD findings (prevented, flagged, excepted)' })
  @ApiQuery({ name: 'personId', required: false })
  async violations(@Query('personId') personId?: string): Promise<unknown> {
    const r = await this.db.sql.query(
      `SELECT person_id AS "personId", rule_id AS "ruleId", status, mode, conflicting, dropped, exception_id AS "exceptionId", policy_version AS "policyVersion", detected_at AS "detectedAt", updated_at AS "updatedAt"
       FROM ${this.s}.sod_violations WHERE ($1::text IS NULL OR person_id = $1) ORDER BY updated_at DESC LIMIT 1000`,
      [personId ?? null],
    );
    return { violations: r.rows };
  }
}
