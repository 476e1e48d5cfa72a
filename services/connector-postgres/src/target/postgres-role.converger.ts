import type { ProvisioningCommand, TargetOperation } from '@provisio/contracts';
import type { ConvergeOutcome, Converger } from '@provisio/connector-kit';
import { quoteIdent } from '@provisio/persistence';
import type pg from 'pg';

const MANAGED_PREFIX = 'provisio:managed person=';

interface RoleRow {
  oid: string;
  rolcanlogin: boolean;
  comment: string | null;
}

/**
 * Walking-skeleton PostgreSQL target: login roles as accounts. Reads the role, compares, and
 * issues only the statements that differ. Roles it did not create (no managed comment) are
 * never touched.
 */
export class PostgresRoleConverger implements Converger {
  constructor(private readonly pool: pg.Pool) {}

  async converge(c: ProvisioningCommand): Promise<ConvergeOutcome> {
    const role = quoteIdent(c.accountName);
    const found = await this.pool.query<RoleRow>(
      `SELECT r.oid::text AS oid, r.rolcanlogin, shobj_description(r.oid, 'pg_authid') AS comment FROM pg_roles r WHERE r.rolname = $1`,
      [c.accountName],
    );
    const current = found.rows[0];
    const ops: TargetOperation[] = [];
    if (current && current.comment !== `${MANAGED_PREFIX}${c.personId}`) {
      // Never adopt a role someone else created, nor one Provisio manages for another person.
      throw Object.assign(new Error(`role ${c.accountName} exists and is not managed by Provisio for this person`), { retriable: false, code: 'ROLE_NOT_MANAGED' });
    }
    if (c.state === 'ABSENT') {
      if (current) {
        await this.pool.query(`DROP ROLE ${role}`);
        ops.push({ type: 'DELETE', detail: null });
      }
      return { status: ops.length ? 'APPLIED' : 'NO_CHANGE', operations: ops, accountRef: current?.oid ?? null };
    }
    const login = c.state === 'ACTIVE';
    if (!current) {
      await this.pool.query(`CREATE ROLE ${role} ${login ? 'LOGIN' : 'NOLOGIN'}`);
      await this.pool.query(`COMMENT ON ROLE ${role} IS '${MANAGED_PREFIX}${c.personId.replace(/'/g, "''")}'`);
      ops.push({ type: 'CREATE', detail: null });
    } else if (current.rolcanlogin !== login) {
      await this.pool.query(`ALTER ROLE ${role} ${login ? 'LOGIN' : 'NOLOGIN'}`);
      ops.push({ type: login ? 'ENABLE' : 'DISABLE', detail: null });
    }
    const oid = current?.oid ?? (await this.pool.query<{ oid: string }>('SELECT oid::text AS oid FROM pg_roles WHERE rolname = $1', [c.accountName])).rows[0]?.oid ?? null;
    return { status: ops.length ? 'APPLIED' : 'NO_CHANGE', operations: ops, accountRef: oid };
  }
}
