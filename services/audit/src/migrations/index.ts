import { Init1764000000000 } from './1764000000000-init.js';
import { TamperEvidentStore1765000000000 } from './1765000000000-tamper-evident-store.js';
import { PiiEnvelope1766000000000 } from './1766000000000-pii-envelope.js';
import { LedgerGuard1767000000000 } from './1767000000000-ledger-guard.js';
import { AccessBaseline1768500000000 } from './1768500000000-access-baseline.js';
import { LedgerNeedsRecords1769000000000 } from './1769000000000-ledger-needs-records.js';
import { LedgerCheckByRange1769500000000 } from './1769500000000-ledger-check-by-range.js';

/** Audit's migrations, in order (run by the service when it holds the owner's credentials, else by `provisio-audit migrate`). */
export const AUDIT_MIGRATIONS = [Init1764000000000, TamperEvidentStore1765000000000, PiiEnvelope1766000000000, LedgerGuard1767000000000, AccessBaseline1768500000000, LedgerNeedsRecords1769000000000, LedgerCheckByRange1769500000000];
