import type { CompiledCondition, ConditionEnv, ConditionTrace } from './conditions.js';
import type { DesiredAccount, AttributeValue } from './desired-state.js';
import type { CompiledExpression, Value } from './expressions.js';
import { Facts } from './facts.js';
import { phaseAt, type Phase, type PersonRecord } from './lifecycle.js';
import type { CompiledMapping, CompiledPolicy, CompiledTarget, EntitlementRef } from './policy-model.js';
import type { LifecycleKind } from '@provisio/contracts';

/** What the engine remembers per person × target between evaluations. */
export interface TargetMemory {
  version: number;
  /** The desired state last sent (null: never sent). */
  desired: DesiredAccount | null;
  /** Access kept through a mover's grace period: group (or '#account') → removal time. */
  retained: Record<string, number>;
  /** When the person stopped being entitled to the account while employed (retention clock). */
  lostAt: number | null;
}

export const ACCOUNT_KEY = '#account';

export interface ManualGrant {
  id: string;
  role: string | null;
  target: string | null;
  /** A group on the target; null with a target grants the account alone. */
  group: string | null;
  expiresAt: number | null;
}

export interface SodExceptionGrant {
  id: string;
  ruleId: string;
  expiresAt: number;
}

export interface EvaluationInput {
  person: PersonRecord;
  now: number;
  /** Kind of the lifecycle event being applied (mover and conversion grace), else null. */
  trigger: LifecycleKind | null;
  manual: ManualGrant[];
  exceptions: SodExceptionGrant[];
  /** This person's allocated unique values: namespace → value. */
  allocations: Record<string, string>;
  previous: Record<string, TargetMemory>;
  /** Record why: condition traces, sources of each group, facts behind each attribute. */
  explain?: boolean;
}

export type Source =
  | { kind: 'birthright'; rule: string; role: string; path: string[] }
  | { kind: 'manual'; assignment: string; role: string | null; path: string[] }
  | { kind: 'retained'; until: number };

export interface PendingAction {
  at: number;
  action: string;
  target?: string;
  detail?: string;
}

export interface AllocationRequest {
  namespace: string;
  target: string;
  attribute: string;
  base: string;
  maxLength: number;
  reserved: string[];
}

export interface Violation {
  ruleId: string;
  mode: 'prevent' | 'flag';
  status: 'PREVENTED' | 'FLAGGED' | 'EXCEPTED';
  conflicting: string[];
  dropped: string[];
  exceptionId: string | null;
}

export interface AttributeExplanation {
  name: string;
  value: AttributeValue;
  expression: string;
  facts: Record<string, Value>;
  unique: string | null;
}

export interface TargetDecision {
  target: string;
  kind: string;
  inScope: boolean;
  entitled: boolean;
  desired: DesiredAccount | null;
  memory: Omit<TargetMemory, 'version' | 'desired'>;
  reason: string;
  error: string | null;
  /** The target is not in the policy any more; the decision deprovisions the account it had. */
  removed?: boolean;
  /** Explain mode only. */
  scopeTrace?: ConditionTrace[];
  groups?: { name: string; sources: Source[] }[];
  accountSources?: Source[];
  attributes?: AttributeExplanation[];
}

export interface Evaluation {
  personId: string;
  phase: Phase;
  roles: { id: string; sources: Source[] }[];
  rules?: { id: string; matched: boolean; trace: ConditionTrace[] }[];
  targets: TargetDecision[];
  violations: Violation[];
  allocations: AllocationRequest[];
  actions: PendingAction[];
  nextEvaluationAt: number | null;
  /** Manual assignments past their expiry (to be marked expired). */
  expiredAssignments: string[];
  /** Manual assignments a leaver loses (policy: leaver.revokeManualAssignments). */
  revokedAssignments: string[];
}

interface TargetEntitlements {
  /** Distinct groups, sorted. Shared between evaluations: never mutate. */
  groups: readonly string[];
  groupSet: ReadonlySet<string>;
  /** Why each group is granted (explain mode, manual grants). */
  sources?: Map<string, Source[]>;
  account: Source[];
}

interface ResolvedRoles {
  /** Effective role → the granted role it was reached from first. */
  roles: [string, string][];
  targets: Map<string, TargetEntitlements>;
}

const NO_SOURCES: Source[] = [];
const resolvedCache = new WeakMap<CompiledPolicy, Map<string, ResolvedRoles>>();

/**
 * Effective roles and groups per target of a set of granted roles (birthright, manual), without
 * explanations. People share role sets, so this is memoized per compiled policy (bounded).
 */
function resolveRoles(policy: CompiledPolicy, granted: Map<string, unknown>): ResolvedRoles {
  let cache = resolvedCache.get(policy);
  if (!cache) resolvedCache.set(policy, (cache = new Map()));
  let key = '';
  for (const id of granted.keys()) key += `${id}\n`;
  const hit = cache.get(key);
  if (hit) return hit;
  const roles: [string, string][] = [];
  const seen = new Set<string>();
  const groups = new Map<string, Set<string>>();
  for (const root of granted.keys()) {
    for (const id of policy.roles.get(root)?.closure ?? []) {
      if (seen.has(id)) continue;
      seen.add(id);
      roles.push([id, root]);
      for (const [target, list] of policy.roles.get(id)!.entitlements) {
        let set = groups.get(target);
        if (!set) groups.set(target, (set = new Set()));
        for (const g of list) set.add(g);
      }
    }
  }
  const targets = new Map<string, TargetEntitlements>();
  for (const [t, set] of groups) targets.set(t, { groups: [...set].sort(), groupSet: set, account: NO_SOURCES });
  const value = { roles, targets };
  if (cache.size >= 50_000) cache.clear();
  cache.set(key, value);
  return value;
}

const EMPTY_MEMORY: TargetMemory = { version: 0, desired: null, retained: {}, lostAt: null };
const EMPTY_SET: ReadonlySet<string> = new Set();

function refText(r: EntitlementRef): string {
  return 'role' in r ? `role:${r.role}` : `${r.target}:group:${r.group}`;
}

function toAttributeValue(v: Value): AttributeValue {
  if (typeof v === 'number' && !Number.isSafeInteger(v)) return String(v);
  return v;
}

/** Unique-value candidates: base, base2, base3, ... each at most maxLength characters. */
export function uniqueCandidate(base: string, n: number, maxLength: number): string {
  if (n <= 1) return [...base].slice(0, maxLength).join('');
  const suffix = String(n);
  return [...base].slice(0, Math.max(0, maxLength - suffix.length)).join('') + suffix;
}

/**
 * Evaluates a policy for one person: roles from birthright rules and manual assignments,
 * segregation of duties, then per target scope, lifecycle state, groups, account name and
 * attributes. Pure and deterministic: the same input gives the same output.
 */
export function evaluate(policy: CompiledPolicy, input: EvaluationInput): Evaluation {
  const { person, now, explain } = input;
  const facts = new Facts(person.personId, person.attributes);
  const flips: number[] = [];
  const env: ConditionEnv = { now, flipAt: (t) => void (t > now && flips.push(t)) };
  const actions: PendingAction[] = [];
  const { phase, changesAt } = phaseAt(person, now);
  if (changesAt !== null && changesAt > now) actions.push({ at: changesAt, action: phase === 'PRE_HIRE' ? 'start' : 'termination' });
  const terminated = phase === 'TERMINATED';

  // 1. Roles granted by birthright rules and manual assignments.
  const granted = new Map<string, Source[]>();
  const grant = (role: string, s: Source) => {
    const list = granted.get(role);
    if (list) list.push(s);
    else granted.set(role, [s]);
  };
  const rules: Evaluation['rules'] = explain ? [] : undefined;
  for (const rule of policy.birthright) {
    const trace: ConditionTrace[] | undefined = explain ? [] : undefined;
    const matched = rule.when(facts, trace ? { ...env, trace } : env);
    rules?.push({ id: rule.id, matched, trace: trace! });
    if (matched) for (const r of rule.grant) grant(r, { kind: 'birthright', rule: rule.id, role: r, path: [r] });
  }
  const expiredAssignments: string[] = [];
  const revokedAssignments: string[] = [];
  const manual = input.manual.filter((m) => {
    if (m.expiresAt !== null && m.expiresAt <= now) {
      expiredAssignments.push(m.id);
      return false;
    }
    if (terminated && policy.lifecycle.revokeManualAssignments) {
      revokedAssignments.push(m.id);
      return false;
    }
    if (m.expiresAt !== null) actions.push({ at: m.expiresAt, action: 'assignment-expiry', detail: m.id, ...(m.target ? { target: m.target } : {}) });
    return true;
  });
  for (const m of manual) if (m.role !== null && policy.roles.has(m.role)) grant(m.role, { kind: 'manual', assignment: m.id, role: m.role, path: [m.role] });

  // 2. Effective roles (nested), entitlements per target.
  const expand = (dropped: ReadonlySet<string>) => {
    const effective = new Map<string, Source[]>();
    for (const [roleId, sources] of granted) {
      if (dropped.has(roleId)) continue;
      // Breadth-first so each role records the shortest include path.
      const queue: { id: string; path: string[] }[] = [{ id: roleId, path: [roleId] }];
      for (let head = 0; head < queue.length; head++) {
        const { id, path } = queue[head]!;
        if (dropped.has(id)) continue;
        const seen = effective.get(id);
        const via = explain ? sources.map((s) => (s.kind === 'retained' ? s : { ...s, path })) : sources;
        if (seen) {
          if (explain) seen.push(...via);
          continue;
        }
        effective.set(id, explain ? [...via] : via);
        for (const inc of policy.roles.get(id)?.includes ?? []) queue.push({ id: inc, path: [...path, inc] });
      }
    }
    return effective;
  };
  const entitlementsOf = (effective: Map<string, Source[]>, droppedGroups: ReadonlySet<string>) => {
    const out = new Map<string, { groups: Map<string, Source[]>; account: Source[] }>();
    const at = (t: string) => {
      let e = out.get(t);
      if (!e) out.set(t, (e = { groups: new Map(), account: [] }));
      return e;
    };
    for (const [roleId, sources] of effective) {
      const role = policy.roles.get(roleId);
      if (!role) continue;
      for (const [target, groups] of role.entitlements) {
        const e = at(target);
        if (explain) e.account.push(...sources);
        for (const g of groups) {
          if (droppedGroups.size > 0 && droppedGroups.has(`${target}:group:${g}`)) continue;
          const list = e.groups.get(g);
          if (list) {
            if (explain) list.push(...sources);
          } else e.groups.set(g, explain ? [...sources] : sources);
        }
      }
    }
    for (const m of manual) {
      if (m.role !== null || m.target === null || !policy.targetById.has(m.target)) continue;
      const s: Source = { kind: 'manual', assignment: m.id, role: null, path: [] };
      const e = at(m.target);
      e.account.push(s);
      if (m.group !== null && !droppedGroups.has(`${m.target}:group:${m.group}`)) {
        const list = e.groups.get(m.group);
        if (list) list.push(s);
        else e.groups.set(m.group, [s]);
      }
    }
    const result = new Map<string, TargetEntitlements>();
    for (const [t, e] of out) result.set(t, { groups: [...e.groups.keys()].sort(), groupSet: new Set(e.groups.keys()), sources: e.groups, account: e.account });
    return result;
  };
  let effective: Map<string, Source[]>;
  let entitlements: Map<string, TargetEntitlements>;
  if (!explain && manual.length === 0) {
    // The common case depends on the granted roles alone: resolved once per policy and role set.
    const resolved = resolveRoles(policy, granted);
    effective = new Map(resolved.roles.map(([id, root]) => [id, granted.get(root)!]));
    entitlements = resolved.targets;
  } else {
    effective = expand(new Set());
    entitlements = entitlementsOf(effective, new Set());
  }

  // 3. Segregation of duties.
  const violations: Violation[] = [];
  if (policy.sod.length > 0) {
    const droppedRoles = new Set<string>();
    const droppedGroups = new Set<string>();
    const previouslyHeld = (r: EntitlementRef) =>
      'role' in r ? person.heldRoles.includes(r.role) : (input.previous[r.target]?.desired?.groups.includes(r.group) ?? false);
    const holds = (r: EntitlementRef) => ('role' in r ? effective.has(r.role) : (entitlements.get(r.target)?.groupSet.has(r.group) ?? false));
    for (const rule of policy.sod) {
      const held = rule.sets
        .map((set) => set.filter(holds))
        .map((refs, i) => ({ i, refs }))
        .filter((s) => s.refs.length > 0);
      if (held.length < 2) continue;
      const conflicting = held.flatMap((s) => s.refs.map(refText));
      const exception = input.exceptions.find((e) => e.ruleId === rule.id && e.expiresAt > now);
      if (exception) {
        actions.push({ at: exception.expiresAt, action: 'sod-exception-expiry', detail: `${rule.id} (${exception.id})` });
        violations.push({ ruleId: rule.id, mode: rule.mode, status: 'EXCEPTED', conflicting, dropped: [], exceptionId: exception.id });
      } else if (rule.mode === 'flag') {
        violations.push({ ruleId: rule.id, mode: rule.mode, status: 'FLAGGED', conflicting, dropped: [], exceptionId: null });
      } else {
        // Prevent: keep the set the person already had (else the first in the rule), drop the rest.
        const keep = held.find((s) => s.refs.some(previouslyHeld)) ?? held[0]!;
        const dropped = held.filter((s) => s !== keep).flatMap((s) => s.refs);
        for (const r of dropped) {
          if ('role' in r) droppedRoles.add(r.role);
          else droppedGroups.add(`${r.target}:group:${r.group}`);
        }
        violations.push({ ruleId: rule.id, mode: rule.mode, status: 'PREVENTED', conflicting, dropped: dropped.map(refText), exceptionId: null });
      }
    }
    if (droppedRoles.size > 0 || droppedGroups.size > 0) {
      effective = expand(droppedRoles);
      entitlements = entitlementsOf(effective, droppedGroups);
    }
  }

  // 4. Per target.
  const allocations: AllocationRequest[] = [];
  const targets = policy.targets.map((t) => decideTarget(t, input, facts, env, phase, entitlements.get(t.id), actions, allocations));
  // Targets the policy no longer has: their accounts are deprovisioned like an account the person
  // is no longer in scope for (see removedTarget), so engine, simulation and explain agree.
  for (const [id, prev] of Object.entries(input.previous)) {
    if (policy.targetById.has(id) || prev.desired === null || prev.desired.state === 'ABSENT') continue;
    const removed = removedTarget(policy, id, prev.desired);
    // No grace period keeps anything on a removed target.
    const withoutGrace = { ...input, previous: { ...input.previous, [id]: { ...prev, retained: {} } } };
    const decision = decideTarget(removed, withoutGrace, facts, env, phase, undefined, actions, allocations);
    decision.removed = true;
    decision.reason = `target removed from the policy; ${decision.reason}`;
    targets.push(decision);
  }

  for (const t of flips) actions.push({ at: t, action: 'condition-change' });
  const future = actions.filter((a) => a.at > now);
  const nextEvaluationAt = future.length > 0 ? Math.min(...future.map((a) => a.at)) : null;
  return {
    personId: person.personId,
    phase,
    roles: [...effective].map(([id, sources]) => ({ id, sources })),
    ...(rules ? { rules } : {}),
    targets,
    violations,
    allocations,
    actions: future.filter((a) => a.action !== 'condition-change' || explain).sort((a, b) => a.at - b.at),
    nextEvaluationAt,
    expiredAssignments,
    revokedAssignments,
  };
}

const NOT_IN_SCOPE: CompiledCondition = () => false;

/** An expression giving a value last sent (a list value passes through toAttributeValue unchanged). */
function constant(value: AttributeValue): CompiledExpression {
  return { source: JSON.stringify(value), refs: [], evaluate: () => value as Value };
}

/**
 * A target that was removed from the policy, rebuilt from the last desired state sent for it: no
 * one is in its scope and no grace period applies, so the account is disabled at once with its
 * memberships removed, and deleted per the policy-wide `unentitled` settings (a leaver's per the
 * policy-wide `leaver.retention`). It keeps its account name and last attributes.
 */
function removedTarget(policy: CompiledPolicy, id: string, last: DesiredAccount): CompiledTarget {
  return {
    id,
    kind: last.targetKind,
    description: undefined,
    scope: NOT_IN_SCOPE,
    lifecycle: { ...policy.lifecycle, moverGraceMs: 0, conversionGraceMs: 0, leaverRemoveMemberships: true },
    account: { expression: constant(last.accountName), unique: null },
    attributes: Object.entries(last.attributes).map(([name, value]) => [name, { expression: constant(value), unique: null }]),
  };
}

function decideTarget(
  t: CompiledTarget,
  input: EvaluationInput,
  facts: Facts,
  env: ConditionEnv,
  phase: Phase,
  ent: TargetEntitlements | undefined,
  actions: PendingAction[],
  allocations: AllocationRequest[],
): TargetDecision {
  const { now, explain, person } = input;
  const s = t.lifecycle;
  const prev = input.previous[t.id] ?? EMPTY_MEMORY;
  const scopeTrace: ConditionTrace[] | undefined = explain ? [] : undefined;
  const inScope = t.scope === null ? true : t.scope(facts, scopeTrace ? { ...env, trace: scopeTrace } : env);
  const entitled = inScope && ent !== undefined;
  const computed: readonly string[] = entitled ? ent.groups : [];
  const computedSet: ReadonlySet<string> = entitled ? ent.groupSet : EMPTY_SET;
  const hadAccount = prev.desired !== null && prev.desired.state !== 'ABSENT';

  // Mover / conversion grace: old access stays until its removal time.
  const retained: Record<string, number> = {};
  if (phase === 'ACTIVE' || phase === 'LEAVE') {
    for (const [k, until] of Object.entries(prev.retained)) {
      if (until <= now) continue;
      if (k === ACCOUNT_KEY ? entitled : computedSet.has(k)) continue;
      retained[k] = until;
    }
    const grace = input.trigger === 'MOVER' ? s.moverGraceMs : input.trigger === 'CONVERSION' ? s.conversionGraceMs : 0;
    if (grace > 0 && prev.desired?.state === 'ACTIVE') {
      for (const g of prev.desired.groups) if (!computedSet.has(g) && retained[g] === undefined) retained[g] = now + grace;
      if (!entitled && retained[ACCOUNT_KEY] === undefined) retained[ACCOUNT_KEY] = now + grace;
    }
  }
  const keepAccount = entitled || retained[ACCOUNT_KEY] !== undefined;
  const retainedGroups = Object.keys(retained).filter((k) => k !== ACCOUNT_KEY && (entitled || retained[ACCOUNT_KEY] !== undefined));
  for (const [k, until] of Object.entries(retained))
    actions.push({
      at: until,
      action: k === ACCOUNT_KEY ? 'remove-account-after-grace' : 'remove-group-after-grace',
      target: t.id,
      ...(k === ACCOUNT_KEY ? {} : { detail: k }),
    });
  const groups = retainedGroups.length === 0 ? [...computed] : [...new Set([...computed, ...retainedGroups])].sort();

  let state: DesiredAccount['state'] | null;
  let memberships = groups;
  let lostAt: number | null = null;
  let reason: string;
  const unentitled = (): void => {
    if (!hadAccount) {
      state = prev.desired ? 'ABSENT' : null;
      reason = inScope ? 'not entitled: no role grants an account on this target' : 'out of scope';
      return;
    }
    lostAt = prev.lostAt ?? now;
    memberships = [];
    const why = inScope ? 'no longer entitled' : 'no longer in scope';
    if (s.unentitledAction === 'delete') {
      state = 'ABSENT';
      reason = `${why}: account deleted`;
      return;
    }
    const deleteAt = s.unentitledRetentionMs === null ? null : lostAt + s.unentitledRetentionMs;
    if (deleteAt !== null && now >= deleteAt) {
      state = 'ABSENT';
      reason = `${why}: account deleted after retention`;
    } else {
      state = 'DISABLED';
      reason = `${why}: account disabled, memberships removed`;
      if (deleteAt !== null) actions.push({ at: deleteAt, action: 'delete', target: t.id });
    }
  };
  state = null;
  reason = '';
  if (phase === 'TERMINATED') {
    if (!hadAccount) {
      state = prev.desired ? 'ABSENT' : null;
      reason = 'leaver: no account';
    } else {
      const since = person.terminatedAt ?? now;
      const deleteAt = s.leaverRetentionMs === null ? null : since + s.leaverRetentionMs;
      if (deleteAt !== null && now >= deleteAt) {
        state = 'ABSENT';
        reason = 'leaver: account deleted after retention';
      } else {
        state = 'DISABLED';
        memberships = s.leaverRemoveMemberships ? [] : (prev.desired?.groups ?? []);
        reason = `leaver: account disabled${s.leaverRemoveMemberships ? ', memberships removed' : ''}${deleteAt !== null ? '' : ', kept (retention: never)'}`;
        if (deleteAt !== null) actions.push({ at: deleteAt, action: 'delete', target: t.id });
      }
    }
  } else if (!keepAccount) {
    unentitled();
  } else if (phase === 'PRE_HIRE') {
    const startAt = person.startAt;
    const createAt = startAt === null ? now : startAt - s.preHireLeadMs;
    if (now < createAt && !hadAccount) {
      state = null;
      reason = 'pre-hire: account created before the start date';
      actions.push({ at: createAt, action: 'create-disabled', target: t.id });
    } else {
      state = 'DISABLED';
      reason = 'pre-hire: account created disabled, enabled on the start date';
    }
    if (startAt !== null) actions.push({ at: startAt, action: 'enable', target: t.id });
  } else if (phase === 'LEAVE') {
    if (s.leaveAction === 'keep') {
      state = 'ACTIVE';
      reason = 'on leave: access kept';
    } else {
      state = 'DISABLED';
      if (s.leaveAction === 'suspendAndRemoveMemberships') memberships = [];
      reason = `on leave: account suspended${s.leaveAction === 'suspendAndRemoveMemberships' ? ', memberships removed' : ''}`;
    }
  } else {
    state = 'ACTIVE';
    reason = entitled ? 'active and entitled' : 'moved: access kept during the grace period';
  }

  const decision: TargetDecision = {
    target: t.id,
    kind: t.kind,
    inScope,
    entitled,
    desired: null,
    memory: { retained: phase === 'TERMINATED' ? {} : retained, lostAt },
    reason,
    error: null,
  };
  if (explain) {
    decision.scopeTrace = scopeTrace!;
    decision.accountSources = ent?.account ?? [];
    decision.groups = memberships.map((g) => ({
      name: g,
      sources: ent?.sources?.get(g) ?? (retained[g] !== undefined ? [{ kind: 'retained', until: retained[g] }] : []),
    }));
  }
  if (state === null) return decision;
  if (state === 'ABSENT') {
    decision.desired = { target: t.id, targetKind: t.kind, state, accountName: prev.desired?.accountName ?? '', attributes: {}, groups: [] };
    if (decision.desired.accountName === '') decision.desired = null;
    return decision;
  }

  // Account name and attributes.
  const resolve = (
    m: CompiledMapping,
    attribute: string,
    scope: { get(ref: string): Value },
  ): { value: AttributeValue; unique: string | null; error?: string } => {
    const raw = toAttributeValue(m.expression.evaluate(scope));
    if (!m.unique) return { value: raw, unique: null };
    const allocated = input.allocations[m.unique.namespace];
    if (allocated !== undefined) return { value: allocated, unique: m.unique.namespace };
    if (raw === null || raw === '') return { value: raw, unique: m.unique.namespace, error: `${attribute} is empty; nothing to allocate` };
    const base = uniqueCandidate(String(raw), 1, m.unique.maxLength);
    allocations.push({ namespace: m.unique.namespace, target: t.id, attribute, base, maxLength: m.unique.maxLength, reserved: [...m.unique.reserved] });
    return { value: base, unique: m.unique.namespace };
  };
  const accountName = resolve(t.account, 'accountName', facts);
  const name = accountName.value === null ? '' : String(accountName.value);
  if (accountName.error || name.trim() === '') {
    decision.error = accountName.error ?? `the account name expression '${t.account.expression.source}' gave an empty value`;
    decision.desired = prev.desired;
    return decision;
  }
  const scope = { get: (ref: string): Value => (ref === 'accountName' ? name : facts.get(ref)) };
  const attributes: Record<string, AttributeValue> = {};
  const explained: AttributeExplanation[] = [];
  for (const [attr, m] of t.attributes) {
    const r = resolve(m, attr, scope);
    if (r.error) {
      decision.error = r.error;
      continue;
    }
    attributes[attr] = r.value;
    if (explain)
      explained.push({
        name: attr,
        value: r.value,
        expression: m.expression.source,
        facts: Object.fromEntries(m.expression.refs.map((ref) => [ref, scope.get(ref)])),
        unique: r.unique,
      });
  }
  if (explain) {
    explained.unshift({
      name: 'accountName',
      value: name,
      expression: t.account.expression.source,
      facts: Object.fromEntries(t.account.expression.refs.map((ref) => [ref, facts.get(ref)])),
      unique: accountName.unique,
    });
    decision.attributes = explained;
  }
  decision.desired = { target: t.id, targetKind: t.kind, state, accountName: name, attributes, groups: memberships };
  return decision;
}
