import { startTelemetry } from '@provisio/observability/telemetry';
startTelemetry('hr-ingest');
await (await import('./bootstrap.js')).main();
