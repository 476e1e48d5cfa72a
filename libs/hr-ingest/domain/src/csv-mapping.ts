import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { DATE_FORMATS, parseHrDate, toIsoDate, type DateFormat } from './dates.js';
import { fieldError, type FieldError } from './field-error.js';
import { HR_FIELDS, parseHrAttributes, parseWorkerId, toFieldErrors, type HrAttributesInput, type WorkerRecord } from './worker-input.js';

/**
 * A declarative CSV column mapping (YAML): which column holds which canonical attribute, how
 * dates are written, and how the file's vocabulary maps onto canonical values. Example:
 *
 * ```yaml
 * version: 1
 * columns:
 *   workerId: WorkerID
 *   status: WorkerStatus
 *   hireDate: { column: HireDate, format: MM/DD/YYYY }
 *   custom: { "workday:badge": BadgeID }
 * values:
 *   WorkerStatus: { Active: active, Terminated: terminated, "Leave of Absence": leave }
 * ```
 */
const TARGETS = ['workerId', 'managerWorkerId', 'sourceTimestamp', 'sequence', ...HR_FIELDS] as const;
const DATE_TARGETS = new Set(['hireDate', 'terminationDate']);

const columnSpec = z.union([
  z.string().min(1),
  z.object({ column: z.string().min(1), format: z.enum(DATE_FORMATS).optional() }).strict(),
]);

const mappingSchema = z
  .object({
    version: z.literal(1).default(1),
    csv: z
      .object({
        delimiter: z.string().min(1).max(4).default(','),
        quote: z.string().length(1).default('"'),
        encoding: z.enum(['utf-8', 'utf-16le', 'latin1']).default('utf-8'),
      })
      .strict()
      .default({ delimiter: ',', quote: '"', encoding: 'utf-8' }),
    snapshot: z
      .object({
        mode: z.enum(['full', 'delta']).default('full'),
        absentWorkers: z.enum(['leaver', 'ignore']).default('leaver'),
      })
      .strict()
      .default({ mode: 'full', absentWorkers: 'leaver' }),
    emptyCells: z.enum(['unchanged', 'clear']).default('unchanged'),
    dateFormat: z.enum(DATE_FORMATS).default('ISO'),
    columns: z
      .object({
        ...Object.fromEntries(TARGETS.map((t) => [t, columnSpec.optional()])),
        custom: z.record(z.string().min(1).max(256), columnSpec).optional(),
      })
      .strict()
      .refine((c) => (c as Record<string, unknown>)['workerId'] !== undefined, { message: 'columns.workerId is required: the column that holds the worker id', params: { rule: 'required' } }),
    values: z.record(z.string(), z.record(z.string(), z.union([z.string(), z.boolean(), z.number()]))).default({}),
  })
  .strict();

export type SnapshotMode = 'full' | 'delta';

export interface MappedColumn {
  /** Canonical target: a TARGETS name, or `custom:<key>`. */
  target: string;
  column: string;
  format?: DateFormat | undefined;
  /** The file's values → canonical values (exact match first, then case-insensitive). */
  values?: { exact: Map<string, string | boolean>; folded: Map<string, string | boolean> } | undefined;
}

export interface CsvMapping {
  delimiter: string;
  quote: string;
  encoding: 'utf-8' | 'utf-16le' | 'latin1';
  mode: SnapshotMode;
  absentWorkers: 'leaver' | 'ignore';
  emptyCells: 'unchanged' | 'clear';
  dateFormat: DateFormat;
  columns: MappedColumn[];
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

/** Reads and checks a mapping file; the errors name the YAML path of each problem. */
export function parseCsvMapping(yamlText: string): Parsed<CsvMapping> {
  let doc: unknown;
  try {
    doc = parseYaml(yamlText, { prettyErrors: false, maxAliasCount: 10 });
  } catch (e) {
    const line = e instanceof YAMLParseError ? e.linePos?.[0]?.line : undefined;
    return { ok: false, errors: [fieldError(line ? `line ${line}` : '(yaml)', undefined, 'yaml-syntax', (e as Error).message.split('\n')[0] ?? 'invalid YAML')] };
  }
  const r = mappingSchema.safeParse(doc ?? {});
  if (!r.success) return { ok: false, errors: toFieldErrors(r.error, doc, '') };
  const m = r.data;
  const columns: MappedColumn[] = [];
  const errors: FieldError[] = [];
  const add = (target: string, spec: z.infer<typeof columnSpec>) => {
    const column = typeof spec === 'string' ? spec : spec.column;
    const format = typeof spec === 'string' ? undefined : spec.format;
    if (format && !DATE_TARGETS.has(target) && target !== 'sourceTimestamp') {
      errors.push(fieldError(`columns.${target}.format`, format, 'date-target', 'a format applies only to hireDate, terminationDate and sourceTimestamp'));
    }
    columns.push({ target, column, format });
  };
  for (const t of TARGETS) {
    const spec = (m.columns as Record<string, z.infer<typeof columnSpec> | undefined>)[t];
    if (spec !== undefined) add(t, spec);
  }
  for (const [key, spec] of Object.entries(m.columns.custom ?? {})) add(`custom:${key}`, spec);
  const seen = new Map<string, string>();
  for (const c of columns) {
    const other = seen.get(c.column);
    if (other) errors.push(fieldError(`columns.${c.target}`, c.column, 'one-target-per-column', `column ${c.column} is already mapped to ${other}`));
    seen.set(c.column, c.target);
  }
  for (const [key, map] of Object.entries(m.values)) {
    const col = columns.find((c) => c.column === key) ?? columns.find((c) => c.target === key);
    if (!col) {
      errors.push(fieldError(`values.${key}`, key, 'mapped-column', 'values must be keyed by a mapped column or its canonical attribute'));
      continue;
    }
    const exact = new Map<string, string | boolean>();
    const folded = new Map<string, string | boolean>();
    for (const [from, to] of Object.entries(map)) {
      const v = typeof to === 'number' ? String(to) : to;
      exact.set(from, v);
      folded.set(from.trim().toLowerCase(), v);
    }
    col.values = { exact, folded };
  }
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    value: {
      delimiter: m.csv.delimiter,
      quote: m.csv.quote,
      encoding: m.csv.encoding,
      mode: m.snapshot.mode,
      absentWorkers: m.snapshot.absentWorkers,
      emptyCells: m.emptyCells,
      dateFormat: m.dateFormat,
      columns,
    },
  };
}

/** A mapping bound to a file's header row: the cell index of every mapped column. */
export interface BoundMapping {
  mapping: CsvMapping;
  width: number;
  cells: { col: MappedColumn; index: number }[];
  /** Header columns nobody mapped (reported, not an error). */
  ignoredColumns: string[];
}

export function bindHeader(mapping: CsvMapping, header: readonly string[]): Parsed<BoundMapping> {
  const names = header.map((h) => h.trim());
  const errors: FieldError[] = [];
  const dupes = names.filter((n, i) => n !== '' && names.indexOf(n) !== i);
  for (const d of new Set(dupes)) errors.push(fieldError('header', d, 'unique-column-names', `column ${d} appears more than once in the header`));
  const cells: BoundMapping['cells'] = [];
  for (const col of mapping.columns) {
    let index = names.indexOf(col.column);
    if (index < 0) index = names.findIndex((n) => n.toLowerCase() === col.column.toLowerCase());
    if (index < 0) {
      errors.push(fieldError(`columns.${col.target.replace(':', '.')}`, col.column, 'column-in-header', `column ${col.column} is not in the file's header (${names.slice(0, 30).join(', ')})`));
    } else cells.push({ col, index });
  }
  if (errors.length > 0) return { ok: false, errors };
  const used = new Set(cells.map((c) => c.index));
  return { ok: true, value: { mapping, width: names.length, cells, ignoredColumns: names.filter((n, i) => !used.has(i) && n !== '') } };
}

/**
 * A rejected row names the worker it belongs to whenever that can be read (`workerId`), so a
 * full snapshot still counts that worker as present. `presentIds` is set when the row's id is
 * not certain: for a row whose cell count differs from the header (an unquoted delimiter in a
 * value shifts the cells), every worker id the id cell could hold; for a row whose id cell is
 * empty or invalid, `[]` — nobody can be told present, so the snapshot makes no leavers by
 * absence without a human's confirmation.
 */
export type MappedRow = { ok: true; record: WorkerRecord } | { ok: false; workerId: string | undefined; presentIds?: string[] | undefined; errors: FieldError[] };

/**
 * The worker ids a row with the wrong number of cells may carry. Extra cells (an unquoted
 * delimiter in a value) shift the cells after the split to the right, missing cells to the left;
 * where the split happened is unknown, so the id is one of the cells between its own position
 * and that position shifted by the difference. Only syntactically valid ids count; the id
 * column's own position comes first.
 */
function idCandidates(b: BoundMapping, cells: readonly string[]): { primary: string | undefined; all: string[] } {
  const at = b.cells.find((c) => c.col.target === 'workerId')?.index;
  if (at === undefined) return { primary: undefined, all: [] };
  const diff = cells.length - b.width;
  const from = Math.max(0, Math.min(at, at + diff));
  const to = Math.min(cells.length - 1, Math.max(at, at + diff));
  const read = (i: number) => {
    const raw = (cells[i] ?? '').trim();
    const id = raw === '' ? undefined : parseWorkerId(raw);
    return id?.ok ? id.value : undefined;
  };
  const primary = at < cells.length ? read(at) : undefined;
  const all = new Set<string>(primary ? [primary] : []);
  for (let i = from; i <= to; i++) {
    const id = read(i);
    if (id) all.add(id);
  }
  return { primary, all: [...all] };
}

const TRUE = new Set(['true', 'yes', 'y', '1', 'x']);
const FALSE = new Set(['false', 'no', 'n', '0', '']);

function mapValue(col: MappedColumn, raw: string): string | boolean {
  if (!col.values) return raw;
  const hit = col.values.exact.get(raw) ?? col.values.folded.get(raw.toLowerCase());
  return hit === undefined ? raw : hit;
}

/** One data row → a worker record, or the reasons it is rejected (each names its column). */
export function mapRow(b: BoundMapping, cells: readonly string[], source: string): MappedRow {
  const errors: FieldError[] = [];
  if (cells.length !== b.width) {
    // Typically an unquoted delimiter inside a value ("R&D, Europe"). The row is rejected, but
    // the worker it belongs to is still in the file: a full snapshot must not make them a leaver.
    const ids = idCandidates(b, cells);
    const hint = cells.length > b.width ? ' (a value containing the delimiter must be quoted)' : '';
    return {
      ok: false,
      workerId: ids.primary ?? ids.all[0],
      presentIds: ids.all,
      errors: [fieldError('(row)', `${cells.length} cells`, 'column-count', `the row has ${cells.length} cells; the header has ${b.width}${hint}`)],
    };
  }
  const attributes: Record<string, unknown> = {};
  const custom: Record<string, string | null> = {};
  const columnOf = new Map<string, string>();
  let workerIdRaw: string | undefined;
  let managerWorkerId: string | null | undefined;
  let sourceTimestamp: number | undefined;
  let sequence: number | undefined;
  const clear = b.mapping.emptyCells === 'clear';
  for (const { col, index } of b.cells) {
    const raw = (cells[index] ?? '').trim();
    const t = col.target;
    columnOf.set(t, col.column);
    if (t === 'workerId') {
      workerIdRaw = raw;
      continue;
    }
    if (raw === '') {
      if (!clear || t === 'status' || t === 'sourceTimestamp' || t === 'sequence') continue;
      if (t === 'managerWorkerId') managerWorkerId = null;
      else if (t.startsWith('custom:')) custom[t.slice(7)] = null;
      else attributes[t] = null;
      continue;
    }
    const v = mapValue(col, raw);
    if (t === 'managerWorkerId') {
      const id = parseWorkerId(String(v), col.column);
      if (id.ok) managerWorkerId = id.value;
      else errors.push(...id.errors);
    } else if (t === 'sourceTimestamp') {
      const p = parseHrDate(String(v));
      if (!p) errors.push(fieldError(col.column, raw, 'iso-8601-date-time', 'sourceTimestamp: expected an ISO-8601 date-time (with Z or an offset)'));
      else sourceTimestamp = p.kind === 'instant' ? p.epochMs : Date.UTC(p.y, p.m - 1, p.d, p.kind === 'local' ? p.h : 0, p.kind === 'local' ? p.mi : 0, p.kind === 'local' ? p.s : 0);
    } else if (t === 'sequence') {
      if (!/^\d{1,15}$/.test(String(v))) errors.push(fieldError(col.column, raw, 'non-negative-integer', 'sequence: expected a non-negative integer'));
      else sequence = Number(v);
    } else if (t === 'onLeave') {
      if (typeof v === 'boolean') attributes[t] = v;
      else if (TRUE.has(v.toLowerCase())) attributes[t] = true;
      else if (FALSE.has(v.toLowerCase())) attributes[t] = false;
      else errors.push(fieldError(col.column, raw, 'boolean', 'onLeave: expected true/false, yes/no, y/n or 1/0 (or map the value under values:)'));
    } else if (DATE_TARGETS.has(t)) {
      const format = col.format ?? b.mapping.dateFormat;
      const iso = typeof v === 'string' ? toIsoDate(v, format) : undefined;
      if (iso === undefined) errors.push(fieldError(col.column, raw, `date-format:${format}`, `${t}: expected a real date written as ${format}`));
      else attributes[t] = iso;
    } else if (t.startsWith('custom:')) {
      custom[t.slice(7)] = String(v);
    } else {
      attributes[t] = typeof v === 'boolean' ? String(v) : v;
    }
  }
  if (Object.keys(custom).length > 0) attributes['custom'] = custom;
  const id = parseWorkerId(workerIdRaw, columnOf.get('workerId') ?? 'workerId');
  if (!id.ok) errors.push(...id.errors);
  const attrs = parseHrAttributes(attributes, '');
  if (!attrs.ok) {
    for (const e of attrs.errors) {
      const attr = e.field.split('.')[0] ?? e.field;
      const column = columnOf.get(attr) ?? (attr === 'custom' ? columnOf.get(`custom:${e.field.split('.')[1]}`) : undefined);
      errors.push({ ...e, field: column ?? e.field, message: `${e.field}: ${e.message}` });
    }
  }
  if (errors.length > 0 || !id.ok || !attrs.ok) return id.ok ? { ok: false, workerId: id.value, errors } : { ok: false, workerId: workerIdRaw || undefined, presentIds: [], errors };
  const record: WorkerRecord = { source, workerId: id.value, attributes: attrs.value as HrAttributesInput };
  if (managerWorkerId !== undefined) record.managerWorkerId = managerWorkerId;
  if (sourceTimestamp !== undefined) record.sourceTimestamp = sourceTimestamp;
  if (sequence !== undefined) record.sequence = sequence;
  return { ok: true, record };
}
