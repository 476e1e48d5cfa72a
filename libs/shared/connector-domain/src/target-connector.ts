/**
 * The one interface a target kind implements. Everything else — consuming commands, skipping
 * stale versions, converging, rate limits, retries, quarantine, results, reconciliation — is the
 * kit's. Implementations translate these calls to the target's protocol and classify failures
 * with ConnectorError (transient, rate-limited, permanent).
 */
export type AttributeValue = string | boolean | number | string[] | null;
export type Attributes = Record<string, AttributeValue>;
export type DesiredState = 'ACTIVE' | 'DISABLED' | 'ABSENT';

/** What a command says one person's account on one target should look like. */
export interface DesiredAccount {
  personId: string;
  target: string;
  version: number;
  state: DesiredState;
  accountName: string;
  /** Managed attributes: only these are compared and written; null means "must not be set". */
  attributes: Attributes;
  /** Group memberships (group names or target-native group ids). */
  groups: string[];
}

/** An account as the target reports it. */
export interface TargetAccount {
  /** Target-native immutable id (entryUUID, objectGUID, SCIM id, role oid). */
  ref: string;
  /** The account's name on the target (uid, sAMAccountName, userName, role name). */
  name: string;
  /** The person whose account this is, from the connector's ownership marker; null = not managed by Provisio. */
  owner: string | null;
  enabled: boolean;
  /**
   * A disabled account whose sessions are still open (PostgreSQL: a NOLOGIN role with backends in
   * pg_stat_activity, left by a termination that failed after the NOLOGIN or by a NOLOGIN set by
   * hand). The disable is not done until they are ended: for a DISABLED desired state (and an
   * orphan to disable) it counts as enabled, for an ACTIVE one as disabled. Only connectors that
   * end sessions on disable report it.
   */
  openSessions?: boolean;
  /** At least the attributes the connector manages, in the representation commands use. */
  attributes: Attributes;
  /** Current memberships, named as commands name groups. */
  groups: string[];
  /** Where the account lives when that depends on attributes (an LDAP DN); compared with PlanOptions.locationOf. */
  location?: string;
}

/** Where to look for a person's account: by last known ref, by ownership marker, then by name. */
export interface AccountLocator {
  personId: string;
  accountName: string;
  accountRef: string | null;
  /** The full desired state, for targets whose name depends on attributes (LDAP DN templates). */
  desired: DesiredAccount;
}

/** A change to an existing account: rename/move, attribute values (null removes), owner claim. */
export interface AccountPatch {
  /** New account name (rename); for LDAP also a move when the DN template's container changed. */
  name?: string;
  attributes?: Attributes;
  /** Sets the ownership marker to this person (adopting an existing, unowned account). */
  owner?: string;
}

export interface Page<T> {
  items: T[];
  /** Opaque cursor of the next page; null on the last page. */
  next: string | null;
}

export interface TargetGroup {
  /** The name commands use for the group. */
  name: string;
  ref: string;
  memberCount?: number;
}

export interface TargetConnector {
  /** Cheap liveness probe of the target (used by quarantine probes and readiness). */
  ping(): Promise<void>;
  readAccount(locator: AccountLocator): Promise<TargetAccount | null>;
  /**
   * Optional: reads many accounts in one go (the kit prefetches a batch's accounts with it). The
   * map holds an entry — the account or null — for every locator's personId it could decide;
   * the kit reads the others one by one.
   */
  readAccounts?(locators: AccountLocator[]): Promise<Map<string, TargetAccount | null>>;
  /** Creates the account with its attributes, enabled unless desired.state is DISABLED. Memberships follow separately. */
  createAccount(desired: DesiredAccount): Promise<TargetAccount>;
  /** Returns the account as it is after the change (its name and ref may have changed). */
  updateAccount(account: TargetAccount, patch: AccountPatch, desired: DesiredAccount): Promise<TargetAccount>;
  enableAccount(account: TargetAccount, desired: DesiredAccount): Promise<void>;
  disableAccount(account: TargetAccount, desired: DesiredAccount): Promise<void>;
  deleteAccount(account: TargetAccount): Promise<void>;
  /** Pages through every account in the connector's scope (managed and unmanaged). */
  listAccounts(cursor: string | null, pageSize: number): Promise<Page<TargetAccount>>;
  addGroupMembership(account: TargetAccount, group: string): Promise<void>;
  removeGroupMembership(account: TargetAccount, group: string): Promise<void>;
  listGroups(cursor: string | null, pageSize: number): Promise<Page<TargetGroup>>;
  close(): Promise<void>;
}
