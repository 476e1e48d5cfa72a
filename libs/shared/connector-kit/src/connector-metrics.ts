import { counter, gauge, histogram } from '@provisio/observability';

/** Per-target metrics of every connector (label `target` is the target id, `kind` its kind). */
export const ConnectorMetrics = {
  operations: counter('provisio_connector_operations_total', 'Calls to targets, by operation and outcome (rate = ops/s)', ['target', 'kind', 'operation', 'outcome']),
  errors: counter('provisio_connector_errors_total', 'Failed target calls and commands, by error class (transient, rate_limited, permanent) and code', ['target', 'kind', 'error_class', 'code']),
  callDuration: histogram('provisio_connector_call_duration_seconds', 'Latency of one target call', ['target', 'kind', 'operation'], [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]),
  commandDuration: histogram('provisio_connector_command_duration_seconds', 'Time to converge one command, retries included', ['target', 'kind'], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 120, 600]),
  commands: counter('provisio_connector_commands_total', 'Commands settled, by result status', ['target', 'kind', 'status']),
  retries: counter('provisio_connector_command_retries_total', 'Command attempts that failed transiently and were retried', ['target', 'kind', 'error_class']),
  quarantine: gauge('provisio_connector_quarantine_state', 'Circuit breaker per target: 0 closed, 1 half-open (probing), 2 open (quarantined)', ['target', 'kind']),
  quarantineTransitions: counter('provisio_connector_quarantine_transitions_total', 'Circuit breaker state changes', ['target', 'kind', 'to']),
  queueLag: gauge('provisio_connector_queue_lag_seconds', 'Age (issuedAt → now) of the oldest command waiting for or in work on the target', ['target', 'kind']),
  inFlight: gauge('provisio_connector_commands_in_flight', 'Commands waiting for or in work on the target', ['target', 'kind']),
  parked: gauge('provisio_connector_parked_commands', 'Commands parked in the database while their target is quarantined (every replica reports the shared count: aggregate with max)', ['target', 'kind']),
  parkings: counter('provisio_connector_commands_parked_total', 'Commands parked because their target was quarantined or had parked commands of the same person', ['target', 'kind']),
  driftAccounts: gauge('provisio_connector_drift_accounts', 'Findings of the last reconciliation run, by drift kind', ['target', 'kind', 'drift']),
  reconciliations: counter('provisio_connector_reconciliations_total', 'Reconciliation runs, by status', ['target', 'kind', 'status']),
  reconciliationDuration: histogram('provisio_connector_reconciliation_duration_seconds', 'Duration of reconciliation runs', ['target', 'kind'], [1, 5, 10, 30, 60, 120, 300, 900, 3600]),
  orphansHeld: counter('provisio_connector_reconciliation_orphans_held_total', 'Correcting runs that reported orphans without correcting them because they exceeded the orphan safety limit', ['target', 'kind']),
  accountsScanned: gauge('provisio_connector_reconciliation_accounts_scanned', 'Accounts the last reconciliation run read from the target', ['target', 'kind']),
};
