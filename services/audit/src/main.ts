import { startTelemetry } from '@provisio/observability';
startTelemetry('audit');
await (await import('./bootstrap.js')).main();
