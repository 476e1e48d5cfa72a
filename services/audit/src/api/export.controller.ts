import { Controller, Get, Inject, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RequireScopes, Scopes } from '@provisio/auth';
import type { Response } from 'express';
import { z } from 'zod';
import { parse, timeSchema } from './params.js';
import type { ExportService } from './export.service.js';

export const EXPORT_SERVICE = Symbol('EXPORT_SERVICE');

const exportQuery = z
  .object({ from: timeSchema, to: timeSchema })
  .refine((q) => q.from <= q.to, { message: 'from must not be after to', path: ['from'] });

@ApiTags('audit: export')
@ApiBearerAuth()
@Controller('v1/export')
export class ExportController {
  constructor(@Inject(EXPORT_SERVICE) private readonly exports: ExportService) {}

  @Get()
  @RequireScopes(Scopes.auditRead)
  @ApiProduces('application/x-ndjson')
  @ApiOperation({
    summary: 'Export the records recorded in a time range as JSON Lines, verifiable offline',
    description:
      'Lines: header, start, the signed checkpoints around the range, one `record` line per record in the range (stored form: personal data stays encrypted), hash-only `link` lines up to the checkpoints, end. Verify with `provisio-audit verify-export <file> --public-key <pem>`.',
  })
  @ApiQuery({ name: 'from', required: true, description: 'ISO-8601 recording time, inclusive' })
  @ApiQuery({ name: 'to', required: true, description: 'ISO-8601 recording time, inclusive' })
  async export(@Query() query: unknown, @Res() res: Response): Promise<void> {
    const q = parse(exportQuery, query, 'query');
    const lines = this.exports.lines(q.from, q.to);
    // Fail before the first byte when the export cannot start (so the client gets an error status).
    const first = await lines.next();
    res.status(200);
    res.setHeader('content-type', 'application/x-ndjson; charset=utf-8');
    res.setHeader('content-disposition', `attachment; filename="audit-${q.from.toISOString().slice(0, 10)}-${q.to.toISOString().slice(0, 10)}.jsonl"`);
    if (!first.done) res.write(first.value);
    for await (const chunk of lines) {
      if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
    }
    res.end();
  }
}
