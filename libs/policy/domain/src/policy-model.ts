import type { CompiledCondition, ConditionDoc } from './conditions.js';
import type { CompiledExpression } from './expressions.js';
import type { TimeZone } from './time.js';

/** A policy document as written in YAML (one or several files merged). */
export interface PolicyDoc {
  apiVersion: 'provisio.dev/v1';
  kind: 'Policy';
  metadata?: { name?: string; description?: string };
  lifecycle?: LifecycleDoc;
  targets?: TargetDoc[];
  roles?: RoleDoc[];
  birthright?: BirthrightDoc[];
  sod?: SodRuleDoc[];
}

export interface LifecycleDoc {
  preHire?: { leadTime?: string };
  mover?: { gracePeriod?: string };
  conversion?: { gracePeriod?: string };
  leaver?: { removeMemberships?: boolean; retention?: string; revokeManualAssignments?: boolean };
  leaveOfAbsence?: { action?: LeaveAction };
  unentitled?: { action?: 'disable' | 'delete'; retention?: string };
}

export type LeaveAction = 'suspend' | 'suspendAndRemoveMemberships' | 'keep';

export type MappingDoc = string | { value: string; unique?: UniqueDoc };
export interface UniqueDoc {
  namespace?: string;
  maxLength?: number;
  reserved?: string[];
}

export interface TargetDoc {
  id: string;
  kind: string;
  description?: string;
  scope?: ConditionDoc;
  lifecycle?: LifecycleDoc;
  account: { name: MappingDoc };
  attributes?: Record<string, MappingDoc>;
}

export interface RoleDoc {
  id: string;
  description?: string;
  includes?: string[];
  entitlements?: Record<string, { groups?: string[] } | null>;
}

export interface BirthrightDoc {
  id: string;
  description?: string;
  when?: ConditionDoc;
  grant: string[];
}

export type EntitlementRef = { role: string } | { target: string; group: string };

export interface SodRuleDoc {
  id: string;
  description?: string;
  mode: 'prevent' | 'flag';
  sets: EntitlementRef[][];
}

/** Lifecycle settings with defaults applied, in milliseconds (null: never). */
export interface LifecycleSettings {
  preHireLeadMs: number;
  moverGraceMs: number;
  conversionGraceMs: number;
  leaverRemoveMemberships: boolean;
  leaverRetentionMs: number | null;
  revokeManualAssignments: boolean;
  leaveAction: LeaveAction;
  unentitledAction: 'disable' | 'delete';
  unentitledRetentionMs: number | null;
}

export interface CompiledMapping {
  expression: CompiledExpression;
  unique: { namespace: string; maxLength: number; reserved: ReadonlySet<string> } | null;
}

export interface CompiledTarget {
  id: string;
  kind: string;
  description: string | undefined;
  scope: CompiledCondition | null;
  lifecycle: LifecycleSettings;
  account: CompiledMapping;
  attributes: [string, CompiledMapping][];
}

export interface CompiledRole {
  id: string;
  description: string | undefined;
  includes: string[];
  /** Groups per target this role grants itself (an empty list grants the account alone). */
  entitlements: Map<string, string[]>;
  /** This role and every role it includes, directly or not. */
  closure: string[];
}

export interface CompiledRule {
  id: string;
  description: string | undefined;
  when: CompiledCondition;
  grant: string[];
}

export interface CompiledSodRule {
  id: string;
  description: string | undefined;
  mode: 'prevent' | 'flag';
  sets: EntitlementRef[][];
}

/** A validated policy, ready to evaluate. Immutable; shared across evaluations. */
export interface CompiledPolicy {
  name: string;
  /** Zone of dates without an offset, day boundaries and formatDate. */
  timeZone: TimeZone;
  lifecycle: LifecycleSettings;
  targets: CompiledTarget[];
  targetById: Map<string, CompiledTarget>;
  roles: Map<string, CompiledRole>;
  birthright: CompiledRule[];
  sod: CompiledSodRule[];
}

export const DEFAULT_LIFECYCLE: LifecycleSettings = {
  preHireLeadMs: 0,
  moverGraceMs: 0,
  conversionGraceMs: 0,
  leaverRemoveMemberships: true,
  leaverRetentionMs: null,
  revokeManualAssignments: true,
  leaveAction: 'suspend',
  unentitledAction: 'disable',
  unentitledRetentionMs: null,
};
