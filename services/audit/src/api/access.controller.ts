import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RequireScopes, Scopes } from '@provisio/auth';
import type { AccessGrant } from '@provisio/audit-domain';
import { z } from 'zod';
import { AUDIT_QUERIES, type AuditQueries } from './audit-queries.js';
import { parse, timeSchema } from './params.js';

const accessQuery = z
  .object({ target: z.string().min(1).max(200), entitlement: z.string().min(1).max(500).optional(), at: timeSchema.optional(), until: timeSchema.optional() })
  .refine((q) => !q.until || !q.at || q.at <= q.until, { message: 'at must not be after until', path: ['at'] });

@ApiTags('audit: access')
@ApiBearerAuth()
@Controller('v1/access')
export class AccessController {
  constructor(@Inject(AUDIT_QUERIES) private readonly queries: AuditQueries) {}

  @Get()
  @RequireScopes(Scopes.auditRead)
  @ApiOperation({
    summary: 'Who has (or had) access to a target or entitlement at a time',
    description:
      'Accounts whose applied desired state (the last command a connector applied: APPLIED or NO_CHANGE) was ACTIVE — and, with `entitlement`, included that group or role — at `at` (default now), or at any moment of [at, until]. Each grant names since when it held and the command and result that prove it.',
  })
  @ApiQuery({ name: 'target', required: true, description: 'Target id, e.g. pg-main' })
  @ApiQuery({ name: 'entitlement', required: false, description: 'Group or role on the target' })
  @ApiQuery({ name: 'at', required: false, description: 'ISO-8601 time (default now)' })
  @ApiQuery({ name: 'until', required: false, description: 'End of an interval: anyone with access at some time in [at, until]' })
  @ApiOkResponse({ description: '{ target, entitlement, at, until, grants: [{ personId, accountName, state, groups, since, until, evidence }] }' })
  async access(@Query() query: unknown): Promise<{ target: string; entitlement: string | null; at: string; until: string | null; grants: (Omit<AccessGrant, 'since' | 'until'> & { accountName: string | null; since: string; until: string | null })[] }> {
    const q = parse(accessQuery, query, 'query');
    const at = q.at ?? new Date();
    const grants = await this.queries.access({ target: q.target, entitlement: q.entitlement, at, until: q.until });
    return {
      target: q.target,
      entitlement: q.entitlement ?? null,
      at: at.toISOString(),
      until: q.until?.toISOString() ?? null,
      grants: grants.map((g) => ({ ...g, since: new Date(g.since).toISOString(), until: g.until === null ? null : new Date(g.until).toISOString() })),
    };
  }
}
