import { startTelemetry } from '@provisio/observability/telemetry';
startTelemetry('connector-scim');
await (await import('./bootstrap.js')).main();
