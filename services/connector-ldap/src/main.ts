import { startTelemetry } from '@provisio/observability';
startTelemetry('connector-ldap');
await (await import('./bootstrap.js')).main();
