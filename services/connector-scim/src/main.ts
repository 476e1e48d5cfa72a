import { startTelemetry } from '@provisio/observability';
startTelemetry('connector-scim');
await (await import('./bootstrap.js')).main();
