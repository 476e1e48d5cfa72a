import { startTelemetry } from '@provisio/observability';
startTelemetry('hr-ingest');
await (await import('./bootstrap.js')).main();
