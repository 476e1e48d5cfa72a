import { startTelemetry } from '@provisio/observability/telemetry';
startTelemetry('connector-ldap');
await (await import('./bootstrap.js')).main();
