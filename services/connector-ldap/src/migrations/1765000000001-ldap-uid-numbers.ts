import { migrationSchema } from '@provisio/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class LdapUidNumbers1765000000001 implements MigrationInterface {
  name = 'LdapUidNumbers1765000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS "${migrationSchema(q)}".ldap_uid_numbers (target text PRIMARY KEY, next_number bigint NOT NULL)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS "${migrationSchema(q)}".ldap_uid_numbers`);
  }
}
