import { startTelemetry } from '@provisio/observability/telemetry';
startTelemetry('audit');
await (await import('./bootstrap.js')).main();
