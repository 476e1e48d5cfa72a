import { EXPORT_FORMAT, type ExportLine, type ExportSelection, contentHash } from '@provisio/audit-domain';
import type { ChainService } from '../chain/chain.service.js';
import { contentOf, type RecordRepository } from '../store/record.repository.js';
import type { AuditQueries } from './audit-queries.js';

/**
 * Streams the records of a time range as JSON Lines (see EXPORT_FORMAT in the domain), widened
 * with hash-only links to the signed checkpoints around the range, so the file verifies offline
 * with the public key alone (`provisio-audit verify-export`).
 *
 * The range selects by recording time (`recorded`: one contiguous segment of the chain, so the
 * file proves that nothing recorded in the range is missing) or by event time (`event`: the
 * records whose event time — CloudEvents time, else Kafka timestamp — falls in the range,
 * wherever they sit in the chain; the records between them are `link` lines). A `recorded`
 * export also carries the two neighbours of its range as `boundary` lines with their content
 * (personal data stays sealed), whose recording times prove that the range is complete.
 */
export class ExportService {
  constructor(
    private readonly repo: RecordRepository,
    private readonly chain: ChainService,
    private readonly queries: AuditQueries,
  ) {}

  async *lines(from: Date, to: Date, selection: ExportSelection = 'recorded'): AsyncGenerator<string> {
    // A fresh checkpoint, so the end of the range is vouched for by a signature.
    await this.chain.checkpoint();
    const chainId = await this.repo.chainId();
    const emit = (l: ExportLine) => `${JSON.stringify(l)}\n`;
    yield emit({ type: 'header', format: EXPORT_FORMAT, version: 1, chainId, from: from.toISOString(), to: to.toISOString(), selection, generatedAt: new Date().toISOString() });
    const anchor = await this.repo.chainStart();
    const range = selection === 'event' ? await this.queries.positionsWithEventTimeBetween(from, to) : await this.queries.positionsRecordedBetween(from, to);
    const checkpoints = (await this.chain.listCheckpoints()).filter((c) => c.statement.seq >= anchor.seq).sort((a, b) => a.statement.seq - b.statement.seq);
    if (!range) {
      yield emit({ type: 'start', seq: anchor.seq, hash: anchor.hash.toString('hex'), basis: anchor.basis === 'genesis' ? 'genesis' : 'checkpoint' });
      yield emit({ type: 'end', records: 0, links: 0 });
      return;
    }
    const startCp = [...checkpoints].reverse().find((c) => c.statement.seq < range.first);
    const start = startCp ? { seq: startCp.statement.seq, hash: startCp.statement.hash, basis: 'checkpoint' as const } : { seq: anchor.seq, hash: anchor.hash.toString('hex'), basis: anchor.basis === 'genesis' ? ('genesis' as const) : ('checkpoint' as const) };
    // A recorded range is closed by its neighbour after it (when the chain goes on), so the file
    // proves that nothing recorded in the range is left out: end at a checkpoint past it.
    const head = (await this.repo.head()).seq;
    const closeAt = selection === 'recorded' && head > range.last ? range.last + 1 : range.last;
    const endCp = checkpoints.find((c) => c.statement.seq >= closeAt);
    const end = endCp ? endCp.statement.seq : head;
    yield emit({ type: 'start', ...start });
    for (const c of checkpoints) if (c.statement.seq >= start.seq && c.statement.seq <= end) yield emit({ type: 'checkpoint', checkpoint: { statement: c.statement, signature: c.signature } });
    let records = 0;
    let links = 0;
    let boundaries = 0;
    for await (const page of this.repo.scan(start.seq, end)) {
      let chunk = '';
      for (const row of page) {
        const seq = Number(row.seq);
        const base = { seq, prevHash: row.prev_hash.toString('hex'), hash: row.hash.toString('hex') };
        const content = contentOf(row);
        const selected = seq >= range.first && seq <= range.last && (selection === 'recorded' || (row.event_time >= from && row.event_time <= to));
        if (selected) {
          records++;
          chunk += emit({ type: 'record', ...base, content });
        } else if (selection === 'recorded' && (seq === range.first - 1 || seq === range.last + 1)) {
          // The neighbours of the range, with content: their recording times close it.
          boundaries++;
          chunk += emit({ type: 'boundary', ...base, content });
        } else {
          links++;
          chunk += emit({ type: 'link', ...base, contentHash: contentHash(content).toString('hex') });
        }
      }
      yield chunk;
    }
    yield emit({ type: 'end', records, links, boundaries });
  }
}
