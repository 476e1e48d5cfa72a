import { Ajv, type ErrorObject } from 'ajv';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode, type Scalar } from 'yaml';
import { ConditionError, compileCondition } from './conditions.js';
import { ExpressionError, compileExpression } from './expressions.js';
import { isKnownFact } from './facts.js';
import {
  DEFAULT_LIFECYCLE,
  type CompiledMapping,
  type CompiledPolicy,
  type CompiledRole,
  type CompiledTarget,
  type LifecycleDoc,
  type LifecycleSettings,
  type MappingDoc,
  type PolicyDoc,
} from './policy-model.js';
import { POLICY_JSON_SCHEMA } from './policy-schema.js';
import { parseDuration, TimeZone } from './time.js';

export interface PolicyFile {
  /** File name as shown in errors, e.g. policies/roles.yaml. */
  name: string;
  content: string;
}

/** One problem in a policy: where (file, line, column, path) and which rule it breaks. */
export interface PolicyProblem {
  file: string;
  line: number;
  column: number;
  /** Path inside the file, e.g. targets[1].attributes.mail */
  path: string;
  /** Machine-readable rule, e.g. schema.required, reference.unknown-role, expression.unknown-function */
  rule: string;
  message: string;
}

export function formatProblem(p: PolicyProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.path || '(document)'}: ${p.message} [${p.rule}]`;
}

export type LoadResult = { ok: true; policy: CompiledPolicy; document: PolicyDoc } | { ok: false; problems: PolicyProblem[] };

export class PolicyValidationError extends Error {
  constructor(readonly problems: PolicyProblem[]) {
    super(`invalid policy:\n${problems.map(formatProblem).join('\n')}`);
    this.name = 'PolicyValidationError';
  }
}

type Path = (string | number)[];

interface ParsedFile {
  name: string;
  doc: Document.Parsed;
  lines: LineCounter;
  value: PolicyDoc;
}

let validator: ReturnType<Ajv['compile']> | undefined;
function schemaValidator() {
  validator ??= new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(POLICY_JSON_SCHEMA);
  return validator;
}

function pathText(path: Path): string {
  return path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${p}` : p), '');
}

function nodeAt(doc: Document.Parsed, path: Path): { node: YamlNode | undefined; keyOf?: YamlNode } {
  let node: unknown = doc.contents;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
      if (!pair) return { node: node as YamlNode };
      node = pair.value ?? pair.key;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (!item) return { node: node as YamlNode };
      node = item;
    } else break;
  }
  return { node: node as YamlNode | undefined };
}

function keyNodeAt(doc: Document.Parsed, path: Path, key: string): YamlNode | undefined {
  const { node } = nodeAt(doc, path);
  if (!isMap(node)) return node;
  const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
  return (pair?.key as YamlNode | undefined) ?? node;
}

function position(f: ParsedFile, node: YamlNode | undefined, extra = 0): { line: number; column: number } {
  const offset = node?.range?.[0] ?? 0;
  const pos = f.lines.linePos(offset + extra);
  return { line: pos.line, column: pos.col };
}

function problemAt(f: ParsedFile, path: Path, rule: string, message: string, o: { key?: string; charOffset?: number } = {}): PolicyProblem {
  let node: YamlNode | undefined;
  if (o.key !== undefined) node = keyNodeAt(f.doc, path, o.key);
  else node = nodeAt(f.doc, path).node;
  let extra = 0;
  if (o.charOffset !== undefined && isScalar(node)) {
    const type = (node as Scalar).type;
    if (type === 'PLAIN') extra = o.charOffset;
    else if (type === 'QUOTE_DOUBLE' || type === 'QUOTE_SINGLE') extra = o.charOffset + 1;
  }
  return { file: f.name, ...position(f, node, extra), path: pathText(o.key !== undefined ? [...path, o.key] : path), rule, message };
}

function schemaProblems(f: ParsedFile, errors: ErrorObject[]): PolicyProblem[] {
  const specific = (e: ErrorObject) =>
    !(e.keyword === 'anyOf' || (e.keyword === 'type' && e.schemaPath.includes('/anyOf/')) || (e.keyword === 'const' && e.schemaPath.includes('/anyOf/')));
  const kept = errors.filter((e) => {
    if (specific(e)) return true;
    // A failed alternative: keep it only when no other alternative says something more precise.
    return !errors.some((o) => o !== e && specific(o) && o.instancePath.startsWith(e.instancePath));
  });
  const seen = new Set<string>();
  const out: PolicyProblem[] = [];
  for (const e of kept) {
    const path: Path = e.instancePath
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    let message = e.message ?? 'invalid';
    let key: string | undefined;
    if (e.keyword === 'additionalProperties') {
      key = String((e.params as { additionalProperty: string }).additionalProperty);
      message = `unknown property '${key}'`;
    } else if (e.keyword === 'enum') {
      message = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    } else if (e.keyword === 'const') {
      message = `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`;
    } else if (e.keyword === 'anyOf') {
      message = 'does not match any allowed form';
    }
    const p = problemAt(f, path, `schema.${e.keyword}`, message, key !== undefined ? { key } : {});
    const id = `${p.path}|${p.rule}|${p.message}`;
    if (!seen.has(id)) {
      seen.add(id);
      out.push(p);
    }
  }
  return out;
}

/** Where each element of the merged document came from. */
interface Origin {
  file: ParsedFile;
  path: Path;
}

const LIST_KEYS = ['targets', 'roles', 'birthright', 'sod'] as const;
const SINGLE_KEYS = ['metadata', 'lifecycle'] as const;

function lifecycleSettings(base: LifecycleSettings, d: LifecycleDoc | undefined): LifecycleSettings {
  if (!d) return base;
  const dur = (v: string | undefined, fallback: number) => (v === undefined ? fallback : (parseDuration(v) ?? fallback));
  const ret = (v: string | undefined, fallback: number | null) => (v === undefined ? fallback : v === 'never' ? null : (parseDuration(v) ?? fallback));
  return {
    preHireLeadMs: dur(d.preHire?.leadTime, base.preHireLeadMs),
    moverGraceMs: dur(d.mover?.gracePeriod, base.moverGraceMs),
    conversionGraceMs: dur(d.conversion?.gracePeriod, base.conversionGraceMs),
    leaverRemoveMemberships: d.leaver?.removeMemberships ?? base.leaverRemoveMemberships,
    leaverRetentionMs: ret(d.leaver?.retention, base.leaverRetentionMs),
    revokeManualAssignments: d.leaver?.revokeManualAssignments ?? base.revokeManualAssignments,
    leaveAction: d.leaveOfAbsence?.action ?? base.leaveAction,
    unentitledAction: d.unentitled?.action ?? base.unentitledAction,
    unentitledRetentionMs: ret(d.unentitled?.retention, base.unentitledRetentionMs),
  };
}

/**
 * Parses, validates and compiles policy files. Several files merge into one policy: lists
 * (targets, roles, birthright, sod) are concatenated, metadata and lifecycle may appear in one
 * file only. Every problem names file, line, column, path and rule; nothing is returned unless
 * the whole policy is valid.
 */
export interface LoadOptions {
  /** Time zone of dates without an offset and of formatDate (IANA name or UTC); default UTC. */
  timeZone?: string | TimeZone;
}

export function loadPolicy(files: PolicyFile[], options: LoadOptions = {}): LoadResult {
  const zone = options.timeZone instanceof TimeZone ? options.timeZone : TimeZone.of(options.timeZone ?? 'UTC');
  const problems: PolicyProblem[] = [];
  const parsed: ParsedFile[] = [];
  if (files.length === 0)
    return { ok: false, problems: [{ file: '(none)', line: 1, column: 1, path: '', rule: 'policy.no-files', message: 'no policy file given' }] };
  for (const file of files) {
    const lines = new LineCounter();
    const doc = parseDocument(file.content, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true });
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const pos = lines.linePos(e.pos[0]);
        problems.push({ file: file.name, line: pos.line, column: pos.col, path: '', rule: 'yaml.syntax', message: e.message.split('\n')[0]! });
      }
      continue;
    }
    const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
    const f: ParsedFile = { name: file.name, doc, lines, value: value as PolicyDoc };
    const validate = schemaValidator();
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      problems.push({
        file: file.name,
        line: 1,
        column: 1,
        path: '',
        rule: 'schema.type',
        message: 'a policy file is a YAML mapping with apiVersion, kind, ...',
      });
      continue;
    }
    if (!validate(value)) {
      problems.push(...schemaProblems(f, validate.errors ?? []));
      continue;
    }
    parsed.push(f);
  }
  if (problems.length > 0) return { ok: false, problems };

  // Merge, remembering where each element came from.
  const merged: PolicyDoc = { apiVersion: 'provisio.dev/v1', kind: 'Policy' };
  const origins = new Map<string, Origin>();
  const originOf = (path: Path): { f: ParsedFile; path: Path } => {
    const [top, index, ...rest] = path;
    const item = typeof index === 'number' ? origins.get(`${String(top)}/${index}`) : undefined;
    if (item) return { f: item.file, path: [...item.path, ...rest] };
    const section = origins.get(String(top));
    if (section) return { f: section.file, path };
    return { f: parsed[0]!, path };
  };
  const problem = (path: Path, rule: string, message: string, o: { key?: string; charOffset?: number } = {}) => {
    const { f, path: local } = originOf(path);
    problems.push(problemAt(f, local, rule, message, o));
  };
  for (const f of parsed) {
    for (const key of SINGLE_KEYS) {
      if (f.value[key] === undefined) continue;
      const before = origins.get(key);
      if (before) {
        problems.push(problemAt(f, [key], 'merge.duplicate-section', `${key} is also defined in ${before.file.name}; define it in one file only`, { key }));
        continue;
      }
      origins.set(key, { file: f, path: [key] });
      (merged as unknown as Record<string, unknown>)[key] = f.value[key];
    }
    for (const key of LIST_KEYS) {
      const items = (f.value[key] ?? []) as unknown[];
      const list = ((merged as unknown as Record<string, unknown[]>)[key] ??= []);
      items.forEach((item, i) => {
        origins.set(`${key}/${list.length}`, { file: f, path: [key, i] });
        list.push(item);
      });
    }
  }
  if (problems.length > 0) return { ok: false, problems };

  const policy = compile(merged, problem, zone);
  if (problems.length > 0 || !policy) return { ok: false, problems };
  return { ok: true, policy, document: merged };
}

type Report = (path: Path, rule: string, message: string, o?: { key?: string; charOffset?: number }) => void;

function compile(doc: PolicyDoc, problem: Report, zone: TimeZone): CompiledPolicy | undefined {
  const lifecycle = lifecycleSettings(DEFAULT_LIFECYCLE, doc.lifecycle);

  const unique = <T extends { id: string }>(key: string, list: T[] | undefined): Map<string, T> => {
    const m = new Map<string, T>();
    (list ?? []).forEach((item, i) => {
      if (m.has(item.id)) problem([key, i, 'id'], 'reference.duplicate-id', `duplicate ${key} id '${item.id}'`);
      else m.set(item.id, item);
    });
    return m;
  };
  const targetDocs = unique('targets', doc.targets);
  const roleDocs = unique('roles', doc.roles);
  unique('birthright', doc.birthright);
  unique('sod', doc.sod);

  const namespaces = new Map<string, string>();
  const compileMapping = (m: MappingDoc, path: Path, target: string, attribute: string, allowAccountName: boolean): CompiledMapping | undefined => {
    const source = typeof m === 'string' ? m : m.value;
    const valuePath = typeof m === 'string' ? path : [...path, 'value'];
    try {
      const expression = compileExpression(source, (ref) => isKnownFact(ref) || (allowAccountName && ref === 'accountName'), zone);
      let u: CompiledMapping['unique'] = null;
      if (typeof m !== 'string' && m.unique) {
        const namespace = m.unique.namespace ?? `${target}.${attribute}`;
        const owner = namespaces.get(namespace);
        if (owner && owner !== `${target}.${attribute}` && !m.unique.namespace) {
          problem([...path, 'unique'], 'unique.namespace', `namespace ${namespace} is already used by ${owner}`);
        }
        namespaces.set(namespace, `${target}.${attribute}`);
        u = { namespace, maxLength: m.unique.maxLength ?? 256, reserved: new Set((m.unique.reserved ?? []).map((r) => r.toLowerCase())) };
      }
      return { expression, unique: u };
    } catch (e) {
      if (!(e instanceof ExpressionError)) throw e;
      problem(valuePath, e.rule, `${e.message} (at character ${e.offset + 1} of '${source}')`, { charOffset: e.offset });
      return undefined;
    }
  };
  const compileCond = (c: Parameters<typeof compileCondition>[0], path: Path) => {
    try {
      return compileCondition(c, isKnownFact, [], zone);
    } catch (e) {
      if (!(e instanceof ConditionError)) throw e;
      problem([...path, ...e.path], e.rule, e.message);
      return undefined;
    }
  };

  const targets: CompiledTarget[] = [];
  (doc.targets ?? []).forEach((t, i) => {
    const account = compileMapping(t.account.name, ['targets', i, 'account', 'name'], t.id, 'accountName', false);
    const attributes: [string, CompiledMapping][] = [];
    for (const [name, m] of Object.entries(t.attributes ?? {})) {
      const c = compileMapping(m, ['targets', i, 'attributes', name], t.id, name, true);
      if (c) attributes.push([name, c]);
    }
    const scope = t.scope === undefined ? null : compileCond(t.scope, ['targets', i, 'scope']);
    if (!account || scope === undefined) return;
    targets.push({ id: t.id, kind: t.kind, description: t.description, scope, lifecycle: lifecycleSettings(lifecycle, t.lifecycle), account, attributes });
  });

  const roles = new Map<string, CompiledRole>();
  (doc.roles ?? []).forEach((r, i) => {
    (r.includes ?? []).forEach((inc, j) => {
      if (!roleDocs.has(inc)) problem(['roles', i, 'includes', j], 'reference.unknown-role', `role '${r.id}' includes unknown role '${inc}'`);
    });
    const entitlements = new Map<string, string[]>();
    for (const [target, e] of Object.entries(r.entitlements ?? {})) {
      if (!targetDocs.has(target)) {
        problem(['roles', i, 'entitlements'], 'reference.unknown-target', `role '${r.id}' grants entitlements on unknown target '${target}'`, { key: target });
        continue;
      }
      entitlements.set(target, [...(e?.groups ?? [])]);
    }
    roles.set(r.id, { id: r.id, description: r.description, includes: r.includes ?? [], entitlements, closure: [] });
  });
  // Closures, rejecting include cycles with the path that closes the loop.
  const state = new Map<string, 'visiting' | 'done'>();
  const indexOf = new Map((doc.roles ?? []).map((r, i) => [r.id, i]));
  const visit = (id: string, stack: string[]): string[] => {
    const role = roles.get(id);
    if (!role) return [];
    if (state.get(id) === 'done') return role.closure;
    if (state.get(id) === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(id)), id];
      problem(['roles', indexOf.get(id)!, 'includes'], 'reference.role-cycle', `roles include each other in a cycle: ${cycle.join(' → ')}`);
      return [];
    }
    state.set(id, 'visiting');
    const closure = new Set([id]);
    for (const inc of role.includes) for (const r of visit(inc, [...stack, id])) closure.add(r);
    role.closure = [...closure];
    state.set(id, 'done');
    return role.closure;
  };
  for (const id of roles.keys()) visit(id, []);

  const birthright = (doc.birthright ?? []).flatMap((b, i) => {
    b.grant.forEach((g, j) => {
      if (!roleDocs.has(g)) problem(['birthright', i, 'grant', j], 'reference.unknown-role', `rule '${b.id}' grants unknown role '${g}'`);
    });
    const when = compileCond(b.when, ['birthright', i, 'when']);
    return when ? [{ id: b.id, description: b.description, when, grant: b.grant }] : [];
  });

  (doc.sod ?? []).forEach((s, i) => {
    s.sets.forEach((set, j) =>
      set.forEach((ref, k) => {
        const path: Path = ['sod', i, 'sets', j, k];
        const r = ref as { role?: string; target?: string; group?: string };
        if (r.role !== undefined && (r.target !== undefined || r.group !== undefined))
          problem(path, 'sod.ref', 'an entitlement reference is either {role} or {target, group}');
        else if (r.role !== undefined) {
          if (!roleDocs.has(r.role)) problem([...path, 'role'], 'reference.unknown-role', `SoD rule '${s.id}' names unknown role '${r.role}'`);
        } else if (r.target === undefined || r.group === undefined) problem(path, 'sod.ref', 'an entitlement reference is either {role} or {target, group}');
        else if (!targetDocs.has(r.target)) problem([...path, 'target'], 'reference.unknown-target', `SoD rule '${s.id}' names unknown target '${r.target}'`);
      }),
    );
  });
  const sod = (doc.sod ?? []).map((s) => ({ id: s.id, description: s.description, mode: s.mode, sets: s.sets }));

  return {
    name: doc.metadata?.name ?? 'policy',
    timeZone: zone,
    lifecycle,
    targets,
    targetById: new Map(targets.map((t) => [t.id, t])),
    roles,
    birthright,
    sod,
  };
}

/** loadPolicy that throws PolicyValidationError. */
export function loadPolicyOrThrow(files: PolicyFile[], options: LoadOptions = {}): { policy: CompiledPolicy; document: PolicyDoc } {
  const r = loadPolicy(files, options);
  if (!r.ok) throw new PolicyValidationError(r.problems);
  return { policy: r.policy, document: r.document };
}
