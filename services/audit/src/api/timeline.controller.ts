import { Controller, Delete, Get, HttpCode, Inject, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequireScopes, Scopes, type Principal } from '@provisio/auth';
import { Database } from '@provisio/persistence';
import { z } from 'zod';
import { PersonKeyStore } from '../store/person-keys.repository.js';
import { RECORD_REPOSITORY, type RecordRepository } from '../store/record.repository.js';
import { AUDIT_QUERIES, type AuditQueries, type RecordView } from './audit-queries.js';
import { limitSchema, parse, personIdSchema, timeSchema } from './params.js';

const timelineQuery = z.object({ from: timeSchema.optional(), to: timeSchema.optional(), limit: limitSchema(5000, 1000) });

@ApiTags('audit: persons')
@ApiBearerAuth()
@Controller('v1/persons')
export class TimelineController {
  constructor(
    @Inject(AUDIT_QUERIES) private readonly queries: AuditQueries,
    private readonly keys: PersonKeyStore,
    private readonly db: Database,
    @Inject(RECORD_REPOSITORY) private readonly repo: RecordRepository,
  ) {}

  @Get(':personId/timeline')
  @RequireScopes(Scopes.auditRead)
  @ApiOperation({
    summary: "A person's audit trail in causal order",
    description:
      "HR lifecycle event → policy decision → provisioning commands → connector results → dead letters, ordered by the causal links in the payloads (result.commandId → command.cause.decisionId → decision.cause.lifecycleEventId → event.eventId), then event time. The policy decision (PolicyDecision on policy.decisions, `entityId` = decisionId) is the explanation captured when the policy decided: for each target whose desired state changed, the command and version it produced, the account state and its lifecycle rule, whether the person was in scope and why (the scope condition's steps with the values read), what grants the account and each group (birthright rule and role path, manual assignment, grace period), and each attribute's expression with the HR fact names it read. Commands written before ProvisioningCommand v2 carry no decisionId and follow the HR event directly. Policy changes and SoD violations of the person (policy.* topics) appear in the timeline too. Personal data (account names, HR values in scope steps, attributes, ...) is decrypted unless the person was crypto-shredded (`piiShredded`).",
  })
  @ApiParam({ name: 'personId', description: 'Opaque person id (the Kafka key)' })
  @ApiQuery({ name: 'from', required: false, description: 'ISO-8601 event time lower bound' })
  @ApiQuery({ name: 'to', required: false, description: 'ISO-8601 event time upper bound' })
  @ApiQuery({ name: 'limit', required: false, description: '1-5000, default 1000' })
  @ApiOkResponse({ description: '{ personId, records: RecordView[], truncated }' })
  async timeline(@Param('personId') personId: string, @Query() query: unknown): Promise<{ personId: string; records: RecordView[]; truncated: boolean }> {
    const id = parse(personIdSchema, personId, 'personId');
    const q = parse(timelineQuery, query, 'query');
    return { personId: id, ...(await this.queries.timeline(id, q)) };
  }

  @Delete(':personId/pii')
  @HttpCode(200)
  @RequireScopes(Scopes.auditAdmin)
  @ApiOperation({
    summary: "Crypto-shred a person's personal data",
    description:
      "Destroys the person's data keys: every personal field audit stored for them becomes unreadable for good, while the records, their hashes and the chain stay verifiable. Irreversible. The shredding itself is appended to the chain (audit.actions: who, when, which person; `actionSeq`).",
  })
  @ApiOkResponse({ description: '{ personId, keysShredded, actionSeq }' })
  async shred(@Param('personId') personId: string, @CurrentPrincipal() principal: Principal | undefined): Promise<{ personId: string; keysShredded: number; actionSeq: number }> {
    const id = parse(personIdSchema, personId, 'personId');
    const by = principal?.subject ?? 'unknown';
    const keysShredded = await this.keys.shred(this.db.sql, id, by);
    // Recorded after the keys are gone (a failure here is retried by repeating the request).
    const actionSeq = await this.repo.appendAction({ type: 'pii-shredded', subject: id, body: { by, keysShredded } });
    return { personId: id, keysShredded, actionSeq };
  }
}
