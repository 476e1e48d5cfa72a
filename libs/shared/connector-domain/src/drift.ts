import { ConnectorError } from './connector-error.js';
import { planConvergence, type PlanOptions, type Step } from './converge-plan.js';
import type { DesiredAccount, TargetAccount } from './target-connector.js';

export type DriftKind = 'MISSING' | 'UNEXPECTED' | 'WRONG_ATTRIBUTES' | 'WRONG_STATE' | 'WRONG_MEMBERSHIPS' | 'ORPHAN' | 'UNMANAGED';

export const DRIFT_KINDS: readonly DriftKind[] = ['MISSING', 'UNEXPECTED', 'WRONG_ATTRIBUTES', 'WRONG_STATE', 'WRONG_MEMBERSHIPS', 'ORPHAN', 'UNMANAGED'];

export interface DriftFinding {
  kind: DriftKind;
  /** The person the account is (or should be) for; null for accounts no person owns. */
  personId: string | null;
  accountName: string | null;
  accountRef: string | null;
  /** What differs: attribute names, `name`, `enabled`, `+group` / `-group`, `owner`. Never values. */
  details: string[];
}

function kindOf(step: Step): DriftKind {
  switch (step.type) {
    case 'CREATE':
      return 'MISSING';
    case 'DELETE':
      return 'UNEXPECTED';
    case 'ENABLE':
    case 'DISABLE':
      return 'WRONG_STATE';
    case 'ADD_MEMBERSHIP':
    case 'REMOVE_MEMBERSHIP':
      return 'WRONG_MEMBERSHIPS';
    default:
      return 'WRONG_ATTRIBUTES';
  }
}

function detailOf(step: Step): string[] {
  switch (step.type) {
    case 'CLAIM':
      return ['owner'];
    case 'RENAME':
      return ['name'];
    case 'UPDATE':
      return Object.keys(step.attributes);
    case 'ENABLE':
    case 'DISABLE':
      return ['enabled'];
    case 'ADD_MEMBERSHIP':
      return [`+${step.group}`];
    case 'REMOVE_MEMBERSHIP':
      return [`-${step.group}`];
    default:
      return [];
  }
}

/** Groups a plan's steps into findings, one per kind. */
export function findingsFromPlan(desired: DesiredAccount, account: TargetAccount | null, steps: Step[]): DriftFinding[] {
  const byKind = new Map<DriftKind, string[]>();
  for (const step of steps) {
    const kind = kindOf(step);
    byKind.set(kind, [...(byKind.get(kind) ?? []), ...detailOf(step)]);
  }
  return [...byKind].map(([kind, details]) => ({
    kind,
    personId: desired.personId,
    accountName: account?.name ?? desired.accountName,
    accountRef: account?.ref ?? null,
    details: kind === 'MISSING' ? [] : details,
  }));
}

/**
 * Compares a target's accounts, streamed page by page, with the desired state of every person
 * the connector knows for that target. Accounts are matched by owner first, then by name.
 * `finish()` reports the desired accounts that were never seen.
 */
export class DriftDetector {
  private readonly byPerson = new Map<string, DesiredAccount>();
  private readonly byName = new Map<string, DesiredAccount>();
  private readonly seen = new Set<string>();
  accountsSeen = 0;

  constructor(
    desired: Iterable<DesiredAccount>,
    private readonly plan: Partial<PlanOptions>,
    private readonly nameKey: (name: string) => string = (n) => n,
  ) {
    for (const d of desired) {
      this.byPerson.set(d.personId, d);
      if (d.state !== 'ABSENT') this.byName.set(this.nameKey(d.accountName), d);
    }
  }

  get desiredCount(): number {
    return this.byPerson.size;
  }

  observe(account: TargetAccount): DriftFinding[] {
    this.accountsSeen++;
    if (account.owner !== null) {
      const desired = this.byPerson.get(account.owner);
      if (!desired) return [{ kind: 'ORPHAN', personId: account.owner, accountName: account.name, accountRef: account.ref, details: ['no desired state'] }];
      this.seen.add(desired.personId);
      return findingsFromPlan(desired, account, planConvergence(desired, account, this.plan));
    }
    const desired = this.byName.get(this.nameKey(account.name));
    if (!desired) return [{ kind: 'UNMANAGED', personId: null, accountName: account.name, accountRef: account.ref, details: [] }];
    // Somebody's desired account exists but carries no ownership marker.
    this.seen.add(desired.personId);
    try {
      return findingsFromPlan(desired, account, planConvergence(desired, account, this.plan));
    } catch (e) {
      if (!(e instanceof ConnectorError)) throw e;
      return [{ kind: 'UNMANAGED', personId: desired.personId, accountName: account.name, accountRef: account.ref, details: ['owner'] }];
    }
  }

  finish(): DriftFinding[] {
    const out: DriftFinding[] = [];
    for (const d of this.byPerson.values()) {
      if (this.seen.has(d.personId) || d.state === 'ABSENT') continue;
      out.push(...findingsFromPlan(d, null, planConvergence(d, null, this.plan)).filter((f) => f.kind === 'MISSING'));
    }
    return out;
  }
}
