// The configuration schema of every service, for checks of deployment files against the code.
import type { z } from 'zod';
import { configSchema as audit } from '../../services/audit/src/config.js';
import { configSchema as connectorLdap } from '../../services/connector-ldap/src/config.js';
import { configSchema as connectorPostgres } from '../../services/connector-postgres/src/config.js';
import { configSchema as connectorScim } from '../../services/connector-scim/src/config.js';
import { configSchema as hrIngest } from '../../services/hr-ingest/src/config.js';
import { configSchema as policy } from '../../services/policy/src/config.js';

export const SERVICE_CONFIGS: Record<string, z.ZodObject> = {
  'hr-ingest': hrIngest,
  policy,
  'connector-ldap': connectorLdap,
  'connector-scim': connectorScim,
  'connector-postgres': connectorPostgres,
  audit,
};

/** Variable names a service reads, including the NAME_FILE form of each. */
export function knownVariables(service: string): Set<string> {
  const keys = Object.keys(SERVICE_CONFIGS[service]!.shape);
  return new Set([...keys, ...keys.map((k) => `${k}_FILE`), 'NODE_OPTIONS', 'NODE_ENV', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_SERVICE_NAME', 'OTEL_RESOURCE_ATTRIBUTES']);
}
