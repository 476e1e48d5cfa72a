import { localDatabaseName } from './postgres.js';
/** The six services, their default ports and what each needs beyond the shared environment. */
export interface ServiceSpec {
  name: string;
  port: number;
}

export const SERVICES: ServiceSpec[] = [
  { name: 'hr-ingest', port: 8081 },
  { name: 'policy', port: 8082 },
  { name: 'connector-ldap', port: 8083 },
  { name: 'connector-scim', port: 8084 },
  { name: 'connector-postgres', port: 8085 },
  { name: 'audit', port: 8086 },
];

export interface StackEndpoints {
  kafkaBrokers: string[];
  databaseUrl: string;
  /** PostgreSQL server URL (no database), for targets that get their own database. */
  serverUrl: string;
  authPublicKeyFile: string;
  /** Audit's runtime role and keys (see audit-stack.ts). */
  audit?: { runtimeDatabaseUrl: string | undefined; signingKeyFile: string; piiKeyFile: string } | undefined;
}

/** Environment of one service on the local stack. */
export function serviceEnv(spec: ServiceSpec, stack: StackEndpoints, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...base,
    KAFKA_BROKERS: stack.kafkaBrokers.join(','),
    DATABASE_URL: stack.databaseUrl,
    HTTP_PORT: base[`PROVISIO_${spec.name.toUpperCase().replace(/-/g, '_')}_PORT`] ?? String(spec.port),
    HTTP_HOST: base['HTTP_HOST'] ?? '127.0.0.1',
    AUTH_AUDIENCE: 'provisio',
    AUTH_ISSUER: 'provisio-dev',
    AUTH_PUBLIC_KEY_FILE: stack.authPublicKeyFile,
  };
  if (spec.name === 'connector-postgres') env['TARGET_POSTGRES_URL'] ??= `${stack.serverUrl}/${localDatabaseName()}_target`;
  // The local stack runs no directory or SCIM service: these connectors serve none unless told (CONNECTOR_TARGETS[_FILE]).
  if ((spec.name === 'connector-ldap' || spec.name === 'connector-scim') && !env['CONNECTOR_TARGETS'] && !env['CONNECTOR_TARGETS_FILE']) env['CONNECTOR_TARGETS'] = '[]';
  if (spec.name === 'audit' && stack.audit) {
    // Least privilege: the owner migrates, the runtime role may only INSERT and SELECT audit rows.
    // Audit migrates at start only when it is given the owner (DATABASE_MIGRATION_URL): locally
    // it always is, the stack user; without a runtime role that user is its DATABASE_URL too.
    env['DATABASE_MIGRATION_URL'] ??= stack.databaseUrl;
    if (stack.audit.runtimeDatabaseUrl) env['DATABASE_URL'] = stack.audit.runtimeDatabaseUrl;
    if (!env['AUDIT_SIGNING_KEY']) env['AUDIT_SIGNING_KEY_FILE'] ??= stack.audit.signingKeyFile;
    if (!env['AUDIT_PII_KEY']) env['AUDIT_PII_KEY_FILE'] ??= stack.audit.piiKeyFile;
  }
  return env;
}
