// Prometheus Operator resources: one ServiceMonitor for every Provisio service and the alerts
// that matter to operators (docs/runbook.md explains each one and what to do).

import { SERVICES } from './model.ts';

const PART_OF = 'provisio';
const JOBS = 'hr-ingest|policy|connector-.+|audit';

export const serviceMonitor = {
  apiVersion: 'monitoring.coreos.com/v1',
  kind: 'ServiceMonitor',
  metadata: { name: 'provisio', labels: { 'app.kubernetes.io/part-of': PART_OF } },
  spec: {
    selector: { matchLabels: { 'app.kubernetes.io/part-of': PART_OF } },
    endpoints: [{ port: 'http', path: '/metrics', interval: '30s', scrapeTimeout: '10s' }],
  },
};

const lag = 'sum by (group, topic) (max by (group, topic, partition) (provisio_consumer_lag))';

interface Rule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: 'warning' | 'critical'; service?: string };
  annotations: { summary: string; description: string; runbook_url: string };
}

/**
 * Each alert's section of the runbook, as its path in this repository (`docs/runbook.md#<anchor>`):
 * no public site serves Provisio's docs, so the site prefixes it with wherever it publishes them
 * (an Alertmanager template, or a patch of the rule; docs/deployment.md#monitoring).
 */
export const RUNBOOK_PATH = 'docs/runbook.md';
const runbook = (anchor: string) => `${RUNBOOK_PATH}#${anchor}`;

// prettier-ignore
const rules: Rule[] = [
  { alert: 'ProvisioConsumerLagHigh', expr: `${lag} > 1000`, for: '10m', labels: { severity: 'warning' },
    annotations: { summary: 'Consumer group {{ $labels.group }} is {{ $value }} records behind on {{ $labels.topic }}', description: 'Changes reach targets late. KEDA should be adding consumers; check that it can (replicas at the partition count?) and that the targets answer.', runbook_url: runbook('consumer-lag') } },
  { alert: 'ProvisioConsumerStalled', expr: `(${lag} > 0) and on (group, topic) (sum by (group, topic) (rate(provisio_messages_consumed_total[10m])) == 0)`, for: '15m', labels: { severity: 'critical' },
    annotations: { summary: 'Consumer group {{ $labels.group }} makes no progress on {{ $labels.topic }}', description: 'Records wait and none is handled: a partition retries a transient error forever (target down) or the consumers are not running.', runbook_url: runbook('consumer-lag') } },
  { alert: 'ProvisioDeadLetters', expr: 'sum by (group, topic) (increase(provisio_messages_consumed_total{outcome="dead_lettered"}[15m])) > 0', for: '0m', labels: { severity: 'warning' },
    annotations: { summary: '{{ $value }} records of {{ $labels.topic }} were dead-lettered by {{ $labels.group }}', description: 'Permanent failures (invalid data, schema mismatch) are parked in <topic>.dlt. Look at the dlt-error-* headers, fix the cause, replay.', runbook_url: runbook('replaying-dead-letters') } },
  { alert: 'ProvisioRetryStorm', expr: 'sum by (group, topic, error_class) (rate(provisio_message_retries_total[5m])) > 1', for: '15m', labels: { severity: 'warning' },
    annotations: { summary: '{{ $labels.group }} keeps retrying {{ $labels.topic }} ({{ $labels.error_class }})', description: 'A target or the database fails transiently for a long time; per-person order is kept, so the partition waits.', runbook_url: runbook('quarantined-target') } },
  // The kit's breaker gauge: 0 closed, 1 half-open (probing), 2 open (quarantined).
  { alert: 'ProvisioTargetQuarantined', expr: 'max by (target, kind) (provisio_connector_quarantine_state) >= 1', for: '5m', labels: { severity: 'critical' },
    annotations: { summary: 'Target {{ $labels.target }} ({{ $labels.kind }}) is quarantined', description: 'The connector stopped writing to the target after repeated failures (circuit breaker) and only probes it; commands wait. It resumes by itself when the target answers again.', runbook_url: runbook('quarantined-target') } },
  { alert: 'ProvisioTargetRetrying', expr: 'sum by (target, kind, error_class) (rate(provisio_connector_command_retries_total[5m])) > 1', for: '15m', labels: { severity: 'warning' },
    annotations: { summary: 'Commands for {{ $labels.target }} keep failing transiently ({{ $labels.error_class }})', description: 'The target is slow, throttling (rate_limited) or failing without tripping the breaker; its commands wait and retry in place.', runbook_url: runbook('quarantined-target') } },
  { alert: 'ProvisioDeprovisionSlow', expr: 'histogram_quantile(0.95, sum by (le, target) (rate(provisio_time_to_provision_seconds_bucket{kind="deprovision"}[30m]))) > 900', for: '15m', labels: { severity: 'critical' },
    annotations: { summary: 'Leavers keep access to {{ $labels.target }} for {{ $value | humanizeDuration }} (p95)', description: 'Time from the HR effective time to the account being disabled on the target. This is the number auditors ask about.', runbook_url: runbook('time-to-deprovision') } },
  { alert: 'ProvisioProvisionSlow', expr: 'histogram_quantile(0.95, sum by (le, target) (rate(provisio_time_to_provision_seconds_bucket{kind="provision"}[30m]))) > 1800', for: '30m', labels: { severity: 'warning' },
    annotations: { summary: 'Joiners wait {{ $value | humanizeDuration }} (p95) for their account on {{ $labels.target }}', description: 'Time from the HR effective time to the account being usable on the target.', runbook_url: runbook('time-to-deprovision') } },
  { alert: 'ProvisioOutboxBacklog', expr: 'histogram_quantile(0.99, sum by (le, schema) (rate(provisio_outbox_delay_seconds_bucket[10m]))) > 30', for: '10m', labels: { severity: 'warning' },
    annotations: { summary: 'Events of {{ $labels.schema }} wait {{ $value }} s in the outbox', description: 'The relay publishes late: Kafka slow or unreachable, or the relay lost its lock holder.', runbook_url: runbook('outbox') } },
  { alert: 'ProvisioOutboxPublishErrors', expr: 'sum by (schema) (increase(provisio_outbox_publish_errors_total[10m])) > 0', for: '10m', labels: { severity: 'warning' },
    annotations: { summary: 'The {{ $labels.schema }} outbox relay fails to publish', description: 'Check Kafka reachability and the service principal\'s ACLs (kafka-admin plan).', runbook_url: runbook('outbox') } },
  { alert: 'ProvisioHttpErrors', expr: `sum by (job) (rate(provisio_http_request_duration_seconds_count{status=~"5..", job=~"${JOBS}"}[5m])) / sum by (job) (rate(provisio_http_request_duration_seconds_count{job=~"${JOBS}"}[5m])) > 0.05`, for: '10m', labels: { severity: 'warning' },
    annotations: { summary: '{{ $labels.job }} answers {{ $value | humanizePercentage }} of requests with 5xx', description: 'See the service logs (trace ids link to traces).', runbook_url: runbook('metrics-and-alerts') } },
  { alert: 'ProvisioServiceDown', expr: `up{job=~"${JOBS}"} == 0`, for: '5m', labels: { severity: 'critical' },
    annotations: { summary: '{{ $labels.job }} ({{ $labels.instance }}) is not scraped', description: 'The pod is down or its /metrics endpoint does not answer.', runbook_url: runbook('metrics-and-alerts') } },
  // ProvisioServiceDown needs an `up` series, which exists only while a pod is a scrape target: a
  // Deployment scaled to zero, never scheduled, or dropped from discovery leaves nothing to compare.
  // absent() fires when no instance of the service is up at all, one rule per service so the
  // alert names the service even though absent() has no series to take labels from.
  ...SERVICES.map((s): Rule => ({ alert: 'ProvisioServiceAbsent', expr: `absent(up{job="${s.name}"} == 1)`, for: '5m', labels: { severity: 'critical', service: s.name },
    annotations: { summary: `No instance of ${s.name} is up`, description: `Prometheus has no scraped, healthy target for ${s.name}: the Deployment has no pods (scaled to zero, never scheduled, crash-looping) or the ServiceMonitor no longer finds them.`, runbook_url: runbook('metrics-and-alerts') } })),
];

export const prometheusRule = {
  apiVersion: 'monitoring.coreos.com/v1',
  kind: 'PrometheusRule',
  metadata: { name: 'provisio', labels: { 'app.kubernetes.io/part-of': PART_OF } },
  spec: { groups: [{ name: 'provisio', rules }] },
};
