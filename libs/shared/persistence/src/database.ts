import type pg from 'pg';
import { DataSource, type EntityManager, type MigrationInterface, type MixedList, type EntitySchema, type QueryRunner } from 'typeorm';
import { isTransientDatabaseError } from './database-errors.js';

export type SqlClient = Pick<pg.ClientBase, 'query'>;

/** A unit of work: raw SQL (hot paths, outbox) and TypeORM's manager share one transaction. */
export interface Tx {
  sql: SqlClient;
  manager: EntityManager;
}

export interface DatabaseOptions {
  url: string;
  /** The service's own schema; everything it owns lives there. */
  schema: string;
  applicationName: string;
  poolMax?: number;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities?: MixedList<Function | string | EntitySchema>;
  migrations?: (new () => MigrationInterface)[];
  /** Credentials that own the schema, when the runtime role must not (least privilege). */
  migrationUrl?: string;
  /** Run migrations on open (default true). */
  migrate?: boolean;
}

export interface TransactionOptions {
  isolation?: 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';
  /** Attempts on serialization failures and deadlocks. */
  attempts?: number;
}

/** The schema a migration runs in (the DataSource's `schema`). */
export function migrationSchema(q: QueryRunner): string {
  const schema = (q.connection.options as { schema?: string }).schema;
  if (!schema) throw new Error('migrations need a DataSource with a schema');
  return schema;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function dataSourceFor(options: DatabaseOptions, url: string, poolMax: number): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    schema: options.schema,
    applicationName: options.applicationName,
    entities: options.entities ?? [],
    migrations: options.migrations ?? [],
    migrationsTableName: 'typeorm_migrations',
    synchronize: false,
    logging: false,
    poolSize: poolMax,
    extra: { max: poolMax, options: `-c search_path=${options.schema},public` },
  });
}

/** One service's connection to PostgreSQL, its schema and its migrations. */
export class Database {
  private constructor(
    readonly dataSource: DataSource,
    readonly schema: string,
  ) {}

  static async open(options: DatabaseOptions): Promise<Database> {
    if (options.migrate ?? true) await Database.migrate(options);
    const ds = dataSourceFor(options, options.url, options.poolMax ?? 10);
    await ds.initialize();
    return new Database(ds, options.schema);
  }

  /**
   * Creates the schema if needed and applies pending migrations under an advisory lock, so
   * replicas starting together do not race.
   */
  static async migrate(options: DatabaseOptions): Promise<void> {
    // Two connections: one holds the advisory lock, TypeORM runs the migrations on the other.
    const ds = dataSourceFor(options, options.migrationUrl ?? options.url, 2);
    await ds.initialize();
    const qr = ds.createQueryRunner();
    try {
      await qr.connect();
      await qr.query('SELECT pg_advisory_lock(hashtext($1))', [`provisio:migrations:${options.schema}`]);
      try {
        await qr.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(options.schema)}`);
        await ds.runMigrations({ transaction: 'each' });
      } finally {
        await qr.query('SELECT pg_advisory_unlock(hashtext($1))', [`provisio:migrations:${options.schema}`]);
      }
    } finally {
      await qr.release();
      await ds.destroy();
    }
  }

  /** The pg pool behind TypeORM, for queries outside a transaction. */
  get pool(): pg.Pool {
    return (this.dataSource.driver as unknown as { master: pg.Pool }).master;
  }

  get sql(): SqlClient {
    return this.pool;
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async transaction<T>(fn: (tx: Tx) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const attempts = options.attempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      const qr: QueryRunner = this.dataSource.createQueryRunner();
      try {
        await qr.connect();
        await qr.startTransaction(options.isolation);
        const result = await fn({ sql: (qr as unknown as { databaseConnection: pg.PoolClient }).databaseConnection, manager: qr.manager });
        await qr.commitTransaction();
        return result;
      } catch (e) {
        if (qr.isTransactionActive) await qr.rollbackTransaction().catch(() => undefined);
        const code = (e as { code?: string }).code;
        if (attempt < attempts && (code === '40001' || code === '40P01')) {
          await new Promise((r) => setTimeout(r, 10 * attempt + Math.random() * 20));
          continue;
        }
        throw e;
      } finally {
        await qr.release();
      }
    }
  }

  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }

  /** Whether an error is worth retrying (connection loss, serialization failure, overload). */
  static isTransient(e: unknown): boolean {
    return isTransientDatabaseError(e);
  }
}
