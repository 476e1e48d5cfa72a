import { Controller, Get, Inject, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RequireScopes, Scopes } from '@provisio/auth';
import type { Response } from 'express';
import { z } from 'zod';
import { parse, timeSchema } from './params.js';
import type { ExportService } from './export.service.js';

export const EXPORT_SERVICE = Symbol('EXPORT_SERVICE');

const exportQuery = z
  .object({ from: timeSchema, to: timeSchema, by: z.enum(['recorded', 'event']).default('recorded') })
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
    summary: 'Export the records of a time range as JSON Lines, verifiable offline',
    description:
      'Lines: header, start, the signed checkpoints around the range, one `record` line per selected record (stored form: personal data stays encrypted), for `by=recorded` the two neighbours of the range as `boundary` lines with content, hash-only `link` lines for the other positions up to the checkpoints, end. Verify with `provisio-audit verify-export <file> --public-key <pem> [--require-complete]`. `by=recorded` (default) selects by recording time: one contiguous segment of the chain whose neighbours were recorded outside the range, so the file also proves that nothing recorded in the range is left out (`complete: true`; not when the range reaches the end of the chain) — use it for evidence of completeness. `by=event` selects by event time (when the fact happened, as its producer stamped it), including facts recorded late; records in between are withheld as links, so the file proves integrity but not that every event of the range is in it.',
  })
  @ApiQuery({ name: 'from', required: true, description: 'ISO-8601 time, inclusive' })
  @ApiQuery({ name: 'to', required: true, description: 'ISO-8601 time, inclusive' })
  @ApiQuery({ name: 'by', required: false, enum: ['recorded', 'event'], description: 'which time the range selects by (default recorded)' })
  async export(@Query() query: unknown, @Res() res: Response): Promise<void> {
    const q = parse(exportQuery, query, 'query');
    const lines = this.exports.lines(q.from, q.to, q.by);
    // Fail before the first byte when the export cannot start (so the client gets an error status).
    const first = await lines.next();
    res.status(200);
    res.setHeader('content-type', 'application/x-ndjson; charset=utf-8');
    res.setHeader('content-disposition', `attachment; filename="audit-${q.by}-${q.from.toISOString().slice(0, 10)}-${q.to.toISOString().slice(0, 10)}.jsonl"`);
    if (!first.done) res.write(first.value);
    for await (const chunk of lines) {
      if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
    }
    res.end();
  }
}
