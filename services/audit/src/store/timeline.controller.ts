import { BadRequestException, Controller, Get, Inject, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequireScopes, Scopes } from '@provisio/auth';
import { AUDIT_STORE, type AuditStore, type StoredRecord } from './audit.store.js';

@ApiTags('audit')
@ApiBearerAuth()
@Controller('v1/persons')
export class TimelineController {
  constructor(@Inject(AUDIT_STORE) private readonly store: AuditStore) {}

  @Get(':personId/timeline')
  @RequireScopes(Scopes.auditRead)
  @ApiOperation({ summary: "A person's audit records (HR event, commands, results) in order" })
  async timeline(@Param('personId') personId: string): Promise<{ personId: string; records: StoredRecord[] }> {
    if (!/^[\w-]{1,128}$/.test(personId)) throw new BadRequestException('personId must be an opaque id (letters, digits, - and _)');
    return { personId, records: await this.store.timeline(personId) };
  }
}
