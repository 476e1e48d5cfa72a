// hr-ingest's command line: upload CSV snapshots to a running hr-ingest, follow them, decide
// holds, and check a file against its mapping locally. Run after the build:
//   node services/hr-ingest/dist/cli.js import --source workday --mapping mapping.yaml workers.csv
import { bindHeader, describeErrors, duplicateWorkerIds, mapRow, parseCsvMapping, type FieldError } from '@provisio/hr-ingest-domain';
import { parse } from 'csv-parse';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const stdio: CliIo = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) };

const USAGE = `Usage: hr-ingest <command> [options]

  import   --source <source> --mapping <mapping.yaml> [--name default] [--mode full|delta]
           [--as-of <ISO date-time>] [--no-wait] <file.csv>
           Stores the mapping as <name> for the source, streams the file to hr-ingest and
           follows the snapshot until it is applied, held or failed.
  validate --mapping <mapping.yaml> [--source <source>] <file.csv>
           Checks the file against the mapping locally (no server): header, every row, duplicates.
  status   <snapshotId>                   Shows a snapshot.
  confirm  <snapshotId>                   Applies a snapshot held by the mass-change brake.
  discard  <snapshotId>                   Drops a held snapshot.

  --url <url>      hr-ingest's base URL (PROVISIO_HR_INGEST_URL, default http://127.0.0.1:8081)
  --token <jwt>    bearer token with hr:write / hr:read (PROVISIO_TOKEN)

Exit status: 0 applied (or valid), 2 held for confirmation, 1 failed or invalid.`;

interface Snapshot {
  snapshotId: string;
  status: string;
  rows: { total: number; rejected: number; warnings: number; applied: number };
  hold: { reason: string; leavers: number; population: number } | null;
  events: Record<string, number>;
  planned: Record<string, number> | null;
  error: string | null;
  ignoredColumns: string[];
}

class Api {
  constructor(
    private readonly url: string,
    private readonly token: string | undefined,
  ) {}

  async call<T>(method: string, path: string, body?: { data: string | ReadableStream; type: string; length?: number }): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers['authorization'] = `Bearer ${this.token}`;
    if (body) headers['content-type'] = body.type;
    if (body?.length !== undefined) headers['content-length'] = String(body.length);
    const init: RequestInit & { duplex?: 'half' } = { method, headers };
    if (body) {
      init.body = body.data;
      if (typeof body.data !== 'string') init.duplex = 'half';
    }
    const res = await fetch(`${this.url}${path}`, init);
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const j = json as { message?: string; code?: string; details?: FieldError[] } | undefined;
      const details = j?.details?.length ? `\n  ${describeErrors(j.details).split('; ').join('\n  ')}` : '';
      throw new Error(`${method} ${path}: ${res.status} ${j?.code ?? ''} ${j?.message ?? text.slice(0, 300)}${details}`);
    }
    return json as T;
  }
}

function summary(s: Snapshot, io: CliIo): void {
  const counts = (o: Record<string, number> | null) =>
    Object.entries(o ?? {})
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  io.out(`snapshot ${s.snapshotId}: ${s.status}`);
  io.out(`  rows: ${s.rows.total} (rejected ${s.rows.rejected}, warnings ${s.rows.warnings})`);
  if (s.ignoredColumns.length > 0) io.out(`  columns not mapped: ${s.ignoredColumns.join(', ')}`);
  if (s.status === 'held' && s.hold) {
    io.out(`  HELD by the mass-change brake: ${s.hold.reason}`);
    io.out(`  planned: ${counts(s.planned)}`);
    io.out(`  review: GET /v1/snapshots/${s.snapshotId}/leavers; then hr-ingest confirm|discard ${s.snapshotId}`);
  } else io.out(`  events: ${counts(s.events)}`);
  if (s.error) io.out(`  error: ${s.error}`);
}

async function printRejections(api: Api, id: string, io: CliIo): Promise<void> {
  const page = await api.call<{ rows: { row: number; line: number; workerId: string | null; errors: FieldError[] }[] }>('GET', `/v1/snapshots/${id}/rejections?limit=20`);
  for (const r of page.rows) io.out(`  line ${r.line}${r.workerId ? ` (${r.workerId})` : ''}: ${describeErrors(r.errors)}`);
}

async function follow(api: Api, id: string, io: CliIo, timeoutMs = 6 * 3_600_000): Promise<Snapshot> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const s = await api.call<Snapshot>('GET', `/v1/snapshots/${id}`);
    if (['applied', 'held', 'failed', 'discarded', 'superseded'].includes(s.status)) return s;
    const progress = `${s.status} ${s.rows.applied}/${s.rows.total}`;
    if (progress !== last) io.err(`  … ${progress}`);
    last = progress;
    if (Date.now() > deadline) throw new Error(`snapshot ${id} is still ${s.status}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function validate(mappingFile: string, csvFile: string, source: string, io: CliIo): Promise<number> {
  const mapping = parseCsvMapping(await readFile(mappingFile, 'utf8'));
  if (!mapping.ok) {
    io.err(`mapping ${mappingFile} is invalid:\n  ${describeErrors(mapping.errors).split('; ').join('\n  ')}`);
    return 1;
  }
  const m = mapping.value;
  const parser = createReadStream(csvFile).pipe(
    parse({ bom: true, delimiter: m.delimiter, quote: m.quote, encoding: m.encoding === 'utf-8' ? 'utf8' : m.encoding, relax_column_count: true, skip_empty_lines: true, info: true }),
  );
  let bound: ReturnType<typeof bindHeader> | undefined;
  let rows = 0;
  let rejected = 0;
  const ids: string[] = [];
  for await (const item of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    if (!bound) {
      bound = bindHeader(m, item.record);
      if (!bound.ok) {
        io.err(`header does not match the mapping:\n  ${describeErrors(bound.errors).split('; ').join('\n  ')}`);
        return 1;
      }
      continue;
    }
    if (!bound.ok) return 1;
    rows++;
    const r = mapRow(bound.value, item.record, source);
    if (r.ok) ids.push(r.record.workerId);
    else {
      rejected++;
      // As the service does: a row with the wrong cell count or an unreadable id is no duplicate.
      if (r.workerId && r.presentIds === undefined) ids.push(r.workerId);
      if (rejected <= 50) io.out(`line ${item.info.lines}${r.workerId ? ` (${r.workerId})` : ''}: ${describeErrors(r.errors)}`);
    }
  }
  const dupes = duplicateWorkerIds(ids);
  for (const [id, n] of dupes) io.out(`worker ${id}: appears ${n} times; every one of them would be rejected`);
  const dupRows = [...dupes.values()].reduce((a, b) => a + b, 0);
  io.out(`${rows} rows: ${rows - rejected - dupRows} valid, ${rejected} invalid, ${dupes.size} duplicated worker ids`);
  if (bound?.ok && bound.value.ignoredColumns.length > 0) io.out(`columns not mapped: ${bound.value.ignoredColumns.join(', ')}`);
  return rejected + dupRows > 0 ? 1 : 0;
}

/** Runs one command; returns the exit status. */
export async function runCli(argv: readonly string[], io: CliIo = stdio, env: Record<string, string | undefined> = process.env): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        source: { type: 'string' },
        mapping: { type: 'string' },
        name: { type: 'string', default: 'default' },
        mode: { type: 'string' },
        'as-of': { type: 'string' },
        'no-wait': { type: 'boolean', default: false },
        url: { type: 'string' },
        token: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    io.err(`${(e as Error).message}\n\n${USAGE}`);
    return 1;
  }
  const { values: v, positionals } = parsed;
  const [command, arg] = positionals;
  if (v.help || !command) {
    io.out(USAGE);
    return command ? 0 : 1;
  }
  const api = new Api((v.url ?? env['PROVISIO_HR_INGEST_URL'] ?? 'http://127.0.0.1:8081').replace(/\/$/, ''), v.token ?? env['PROVISIO_TOKEN']);
  try {
    switch (command) {
      case 'validate':
        if (!v.mapping || !arg) throw new Error('validate needs --mapping and a CSV file');
        return await validate(v.mapping, arg, v.source ?? 'cli', io);
      case 'import': {
        if (!v.source || !v.mapping || !arg) throw new Error('import needs --source, --mapping and a CSV file');
        if (v.mode && v.mode !== 'full' && v.mode !== 'delta') throw new Error('--mode is full or delta');
        const yaml = await readFile(v.mapping, 'utf8');
        await api.call('PUT', `/v1/sources/${encodeURIComponent(v.source)}/csv-mappings/${encodeURIComponent(v.name)}`, { data: yaml, type: 'application/yaml' });
        const q = new URLSearchParams({ mapping: v.name, fileName: basename(arg) });
        if (v.mode) q.set('mode', v.mode);
        if (v['as-of']) q.set('asOf', v['as-of']);
        const size = (await stat(arg)).size;
        const staged = await api.call<{ snapshotId: string; rowsTotal: number; rowsRejected: number }>('POST', `/v1/sources/${encodeURIComponent(v.source)}/snapshots?${q}`, {
          data: Readable.toWeb(createReadStream(arg)) as ReadableStream,
          type: 'text/csv',
          length: size,
        });
        io.out(`uploaded ${arg}: ${staged.rowsTotal} rows staged as snapshot ${staged.snapshotId}`);
        if (v['no-wait']) return 0;
        const s = await follow(api, staged.snapshotId, io);
        summary(s, io);
        if (s.rows.rejected > 0) await printRejections(api, s.snapshotId, io);
        return s.status === 'applied' ? 0 : s.status === 'held' ? 2 : 1;
      }
      case 'status': {
        if (!arg) throw new Error('status needs a snapshot id');
        const s = await api.call<Snapshot>('GET', `/v1/snapshots/${encodeURIComponent(arg)}`);
        summary(s, io);
        return s.status === 'held' ? 2 : s.status === 'failed' ? 1 : 0;
      }
      case 'confirm':
      case 'discard': {
        if (!arg) throw new Error(`${command} needs a snapshot id`);
        await api.call('POST', `/v1/snapshots/${encodeURIComponent(arg)}/${command}`);
        if (command === 'discard') {
          io.out(`snapshot ${arg} discarded`);
          return 0;
        }
        const s = await follow(api, arg, io);
        summary(s, io);
        return s.status === 'applied' ? 0 : 1;
      }
      default:
        throw new Error(`unknown command ${command}`);
    }
  } catch (e) {
    io.err(`hr-ingest: ${(e as Error).message}`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runCli(process.argv.slice(2));
}
