import { startTelemetry } from '@provisio/observability';
startTelemetry('policy');
await (await import('./bootstrap.js')).main();
