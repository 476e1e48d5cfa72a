import { startTelemetry } from '@provisio/observability/telemetry';
startTelemetry('policy');
await (await import('./bootstrap.js')).main();
