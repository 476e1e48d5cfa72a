import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The process's Prometheus registry, served at /metrics. */
export const metricsRegistry = new Registry();
let defaultsCollected = false;

export function collectProcessMetrics(service: string): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  metricsRegistry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: metricsRegistry });
}

// Get-or-create: metric definitions may be evaluated more than once (tests, several modules).
export function counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
  return (metricsRegistry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames, registers: [metricsRegistry] });
}

export function gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
  return (metricsRegistry.getSingleMetric(name) as Gauge<L> | undefined) ?? new Gauge({ name, help, labelNames, registers: [metricsRegistry] });
}

export function histogram<L extends string>(name: string, help: string, labelNames: readonly L[] = [], buckets?: number[]): Histogram<L> {
  return (
    (metricsRegistry.getSingleMetric(name) as Histogram<L> | undefined) ??
    new Histogram({ name, help, labelNames, registers: [metricsRegistry], ...(buckets ? { buckets } : {}) })
  );
}

/** Buckets for time-to-provision / time-to-deprovision, in seconds: 50 ms to 1 day. */
export const PROVISIONING_LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400];

/** The two numbers users buy Provisio for: HR effective time → target applied. */
export function provisioningLatency(): Histogram<'target' | 'kind'> {
  return histogram(
    'provisio_time_to_provision_seconds',
    'HR effective time (or receipt, when later) until the target applied the change, by target and kind (provision, deprovision)',
    ['target', 'kind'],
    PROVISIONING_LATENCY_BUCKETS,
  );
}
