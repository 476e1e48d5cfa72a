import { startTelemetry } from '@provisio/observability';
startTelemetry('connector-postgres');
await (await import('./bootstrap.js')).main();
