import { startTelemetry } from '@provisio/observability/telemetry';
startTelemetry('connector-postgres');
await (await import('./bootstrap.js')).main();
