// Builds the Kubernetes manifests from model.ts and the Kafka catalog (@provisio/kafka-admin).
// render.ts writes them under deploy/kubernetes; deploy/test checks that the committed files
// equal what this produces and that every object is valid.
import { AUDIT_REPLAY_PRINCIPAL, AUDIT_REPLAYS, TOPICS, maxPartitionsRead, kafkaTopics, kafkaUsers, userName, type PrincipalName } from '@provisio/kafka-admin';
import { AUDIT_OWNER_JOBS, COMMON_CONFIG, EGRESS_PORTS, HTTP_MAX_REPLICAS, HTTP_PORT, IMAGE_REGISTRY, IMAGE_TAG, MOUNTS, POLICY_FILES_CONFIGMAP, SERVICES, type ServiceModel } from './model.ts';
import { EXAMPLE_POLICY } from './policy.ts';

export type Manifest = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> } };

/** A file of the rendered tree: YAML documents, a kustomization, or an env file. */
export type RenderedFile = { kind: 'yaml'; docs: Record<string, unknown>[] } | { kind: 'env'; values: Record<string, string> };

const PART_OF = 'provisio';

export function selectorLabels(s: ServiceModel): Record<string, string> {
  return { 'app.kubernetes.io/name': s.name, 'app.kubernetes.io/part-of': PART_OF };
}

function labels(s: ServiceModel): Record<string, string> {
  return { ...selectorLabels(s), 'app.kubernetes.io/component': s.component };
}

/** Audit replays dead letters as a principal of its own, whose credentials only audit mounts. */
const replays = (s: ServiceModel) => s.name === 'audit' && AUDIT_REPLAYS;

/** The variables a service gets from its own ConfigMap. */
export function serviceConfig(s: ServiceModel): Record<string, string> {
  return {
    KAFKA_SASL_USERNAME: userName(s.name as PrincipalName),
    ...(replays(s) ? { KAFKA_REPLAY_SASL_USERNAME: userName(AUDIT_REPLAY_PRINCIPAL), KAFKA_REPLAY_SASL_PASSWORD_FILE: `${MOUNTS.kafkaReplayUser}/password` } : {}),
    NODE_OPTIONS: `--enable-source-maps --disable-warning=TimeoutNegativeWarning --max-old-space-size=${s.heapMb}`,
    // The schema owner, for services that migrate at start (audit's owner lives only in its jobs).
    ...(s.secrets.includes('DATABASE_MIGRATION_URL') ? { DATABASE_MIGRATION_URL_FILE: `${MOUNTS.secrets}/DATABASE_MIGRATION_URL` } : {}),
    ...s.config,
  };
}

const RESTRICTED_CONTAINER = {
  allowPrivilegeEscalation: false,
  privileged: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/** The pod-level half of the restricted profile: non-root uid/gid 1000 (the image's user). */
const RESTRICTED_POD = { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } };

/** What every one-shot job pod shares: its own ServiceAccount without a token, restarts on failure. */
const jobPodBase = (serviceAccountName: string) => ({
  restartPolicy: 'OnFailure',
  serviceAccountName,
  automountServiceAccountToken: false,
  enableServiceLinks: false,
  securityContext: RESTRICTED_POD,
});

/** Audit's owner jobs (AUDIT_OWNER_JOBS): migrate + grants, and retention. */
function auditOwnerJobs(s: ServiceModel): Manifest[] {
  const l = { 'app.kubernetes.io/name': 'audit-owner', 'app.kubernetes.io/part-of': PART_OF, 'app.kubernetes.io/component': 'audit' };
  const pod = (args: string[]) => ({
    metadata: { labels: l },
    spec: {
      ...jobPodBase('audit-owner'),
      containers: [
        {
          name: 'audit-owner',
          image: `${IMAGE_REGISTRY}/audit:${IMAGE_TAG}`,
          command: ['node', '/app/services/audit/dist/cli.js', ...args],
          // Audit's configuration and runtime secrets (DATABASE_URL names the role to grant to;
          // retention signs its anchor), plus the owner's credentials from their own Secret.
          envFrom: [{ configMapRef: { name: 'provisio-common' } }, { configMapRef: { name: `provisio-${s.name}` } }],
          env: [{ name: 'DATABASE_MIGRATION_URL_FILE', value: `${MOUNTS.ownerSecrets}/DATABASE_MIGRATION_URL` }],
          resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
          securityContext: RESTRICTED_CONTAINER,
          volumeMounts: [
            { name: 'secrets', mountPath: MOUNTS.secrets, readOnly: true },
            { name: 'owner-secrets', mountPath: MOUNTS.ownerSecrets, readOnly: true },
          ],
        },
      ],
      volumes: [
        { name: 'secrets', secret: { secretName: `provisio-${s.name}-secrets`, defaultMode: 0o440 } },
        { name: 'owner-secrets', secret: { secretName: AUDIT_OWNER_JOBS.secret, defaultMode: 0o440, items: AUDIT_OWNER_JOBS.secrets.map((k) => ({ key: k, path: k })) } },
      ],
    },
  });
  const r = AUDIT_OWNER_JOBS.retention;
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'audit-owner', labels: l }, automountServiceAccountToken: false },
    {
      apiVersion: 'batch/v1',
      kind: 'Job',
      // Runs on every apply of a new release (delete the finished Job first, or let its TTL do it):
      // the audit pods refuse to start until the schema is migrated and granted.
      metadata: { name: 'audit-migrate', labels: l },
      spec: { backoffLimit: 6, ttlSecondsAfterFinished: 3600, template: pod(['migrate', '--require-least-privilege']) },
    },
    {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'audit-retention', labels: l },
      spec: {
        schedule: r.schedule,
        // Suspended: set the months to keep and unsuspend in a site overlay (docs/audit.md).
        suspend: r.suspend,
        concurrencyPolicy: 'Forbid',
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: { spec: { backoffLimit: 2, template: pod(['retention', '--keep-months', String(r.keepMonths)]) } },
      },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'audit-owner', labels: l },
      spec: {
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'audit-owner' } },
        policyTypes: ['Ingress', 'Egress'],
        // PostgreSQL: provisio-egress-postgres (base/network-policy.yaml).
        egress: [{ to: [{ namespaceSelector: {}, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }], ports: EGRESS_PORTS.dns }],
      },
    },
  ];
}

function deployment(s: ServiceModel): Manifest {
  const probe = (path: string, periodSeconds: number, failureThreshold: number, timeoutSeconds: number) => ({
    httpGet: { path, port: 'http' },
    periodSeconds,
    failureThreshold,
    timeoutSeconds,
  });
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: s.name, labels: labels(s) },
    spec: {
      // No `replicas`: KEDA or the HPA owns the count (components/autoscaling), so re-applying
      // the manifests never resets a scaled-out service.
      revisionHistoryLimit: 5,
      selector: { matchLabels: selectorLabels(s) },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: {
          labels: labels(s),
          annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(HTTP_PORT), 'prometheus.io/path': '/metrics' },
        },
        spec: {
          serviceAccountName: s.name,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          // Consumers finish the batch in flight, commit and leave their groups on SIGTERM.
          terminationGracePeriodSeconds: 60,
          securityContext: { ...RESTRICTED_POD, fsGroup: 1000 },
          topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selectorLabels(s) } }],
          containers: [
            {
              name: s.name,
              image: `${IMAGE_REGISTRY}/${s.name}:${IMAGE_TAG}`,
              imagePullPolicy: 'IfNotPresent',
              ports: [{ name: 'http', containerPort: HTTP_PORT, protocol: 'TCP' }],
              envFrom: [{ configMapRef: { name: 'provisio-common' } }, { configMapRef: { name: `provisio-${s.name}` } }],
              // Startup covers migrations (the HTTP server listens only once the service is up).
              startupProbe: probe('/health/live', 5, 60, 3),
              livenessProbe: probe('/health/live', 10, 3, 3),
              readinessProbe: probe('/health/ready', 10, 3, 5),
              // Give endpoints time to drop the pod before the service stops accepting requests.
              lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } },
              resources: s.resources,
              securityContext: RESTRICTED_CONTAINER,
              volumeMounts: [
                { name: 'secrets', mountPath: MOUNTS.secrets, readOnly: true },
                { name: 'kafka-user', mountPath: MOUNTS.kafkaUser, readOnly: true },
                ...(replays(s) ? [{ name: 'kafka-replay-user', mountPath: MOUNTS.kafkaReplayUser, readOnly: true }] : []),
                { name: 'kafka-ca', mountPath: MOUNTS.kafkaCa, readOnly: true },
                { name: 'tmp', mountPath: '/tmp' },
                ...(s.name === 'policy' ? [{ name: 'policy-files', mountPath: MOUNTS.policy, readOnly: true }] : []),
              ],
            },
          ],
          volumes: [
            { name: 'secrets', secret: { secretName: `provisio-${s.name}-secrets`, defaultMode: 0o440 } },
            // Strimzi's User Operator writes the KafkaUser's password to a Secret of the user's name.
            { name: 'kafka-user', secret: { secretName: userName(s.name as PrincipalName), optional: true, defaultMode: 0o440, items: [{ key: 'password', path: 'password' }] } },
            // The replay principal's password (KafkaUser provisio-audit-replay): only the replay producer uses it.
            ...(replays(s) ? [{ name: 'kafka-replay-user', secret: { secretName: userName(AUDIT_REPLAY_PRINCIPAL), optional: true, defaultMode: 0o440, items: [{ key: 'password', path: 'password' }] } }] : []),
            { name: 'kafka-ca', secret: { secretName: 'provisio-kafka-ca', optional: true, defaultMode: 0o444, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
            // The policy files POLICY_PATH names (not optional: without them the service would fall back to its bundled sample).
            ...(s.name === 'policy' ? [{ name: 'policy-files', configMap: { name: POLICY_FILES_CONFIGMAP, defaultMode: 0o444 } }] : []),
          ],
        },
      },
    },
  };
}

function networkPolicy(s: ServiceModel): Manifest {
  const egress = [
    { to: [{ namespaceSelector: {}, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }], ports: EGRESS_PORTS.dns },
    // Kafka and PostgreSQL: the shared provisio-egress-* policies, which an overlay can narrow.
    { ports: EGRESS_PORTS.identityAndTelemetry },
    // Its target (connector-postgres' target database is not necessarily Provisio's PostgreSQL).
    ...s.egress.map((e) => ({ ports: EGRESS_PORTS[e] })),
  ];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: s.name, labels: labels(s) },
    spec: {
      podSelector: { matchLabels: selectorLabels(s) },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          // The API and /metrics: from Provisio's own pods, and from namespaces an operator opts in
          // (the ingress controller's, Prometheus'). Kubelet probes are not subject to policies.
          from: [
            { podSelector: { matchLabels: { 'app.kubernetes.io/part-of': PART_OF } } },
            { namespaceSelector: { matchLabels: { 'provisio.io/api-access': 'true' } } },
            { namespaceSelector: { matchLabels: { 'provisio.io/metrics-access': 'true' } } },
          ],
          ports: [{ protocol: 'TCP', port: 'http' }],
        },
      ],
      egress,
    },
  };
}

function serviceResources(s: ServiceModel): Manifest[] {
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: s.name, labels: labels(s) }, automountServiceAccountToken: false },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: s.name, labels: labels(s) },
      spec: { type: 'ClusterIP', selector: selectorLabels(s), ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] },
    },
    deployment(s),
    { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: s.name, labels: labels(s) }, spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(s) } } },
    networkPolicy(s),
  ];
}

const defaultDeny: Manifest = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'provisio-default-deny', labels: { 'app.kubernetes.io/part-of': PART_OF } },
  // Every pod of the namespace: nothing in or out unless a policy of its own allows it.
  spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
};

/**
 * Egress to Kafka and to Provisio's PostgreSQL, one policy per destination for every pod that
 * needs it (policies add up). By port only, because both often live outside the cluster (managed
 * Kafka, a database service) where no pod or namespace selector can name them. When they run in
 * the cluster, an overlay narrows a destination with one patch that adds `to` (namespace and pod
 * selectors) to `/spec/egress/0` of provisio-egress-kafka or provisio-egress-postgres
 * (overlays/production does it for the Strimzi cluster; docs/deployment.md#network-policies).
 */
export const EGRESS_DESTINATIONS = {
  kafka: { policy: 'provisio-egress-kafka', ports: EGRESS_PORTS.kafka, pods: [...SERVICES.map((s) => s.name), 'kafka-admin'] },
  postgres: { policy: 'provisio-egress-postgres', ports: EGRESS_PORTS.postgres, pods: [...SERVICES.map((s) => s.name), 'audit-owner'] },
} as const;

function egressPolicies(): Manifest[] {
  return Object.values(EGRESS_DESTINATIONS).map((d) => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: d.policy, labels: { 'app.kubernetes.io/part-of': PART_OF } },
    spec: {
      podSelector: { matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'In', values: [...d.pods] }] },
      policyTypes: ['Egress'],
      egress: [{ ports: d.ports }],
    },
  }));
}

function base(): Record<string, RenderedFile> {
  const files: Record<string, RenderedFile> = {
    'base/kustomization.yaml': {
      kind: 'yaml',
      docs: [
        {
          apiVersion: 'kustomize.config.k8s.io/v1beta1',
          kind: 'Kustomization',
          labels: [{ pairs: { 'app.kubernetes.io/part-of': PART_OF }, includeSelectors: false }],
          resources: ['network-policy.yaml', ...SERVICES.map((s) => `${s.name}.yaml`)],
          configMapGenerator: [
            { name: 'provisio-common', envs: ['config/common.env'] },
            ...SERVICES.map((s) => ({ name: `provisio-${s.name}`, envs: [`config/${s.name}.env`] })),
            // The policy service's policy files: an example for the example targets (policy.ts).
            { name: POLICY_FILES_CONFIGMAP, files: ['policy/policy.yaml'] },
          ],
        },
      ],
    },
    'base/network-policy.yaml': { kind: 'yaml', docs: [defaultDeny, ...egressPolicies()] },
    'base/config/common.env': { kind: 'env', values: COMMON_CONFIG },
    'base/policy/policy.yaml': { kind: 'yaml', docs: [EXAMPLE_POLICY] },
  };
  for (const s of SERVICES) {
    files[`base/${s.name}.yaml`] = { kind: 'yaml', docs: [...serviceResources(s), ...(s.name === 'audit' ? auditOwnerJobs(s) : [])] };
    files[`base/config/${s.name}.env`] = { kind: 'env', values: serviceConfig(s) };
  }
  return files;
}

function autoscaling(): Record<string, RenderedFile> {
  const consumers = SERVICES.filter((s) => s.consumerGroups.length > 0);
  const docs: Record<string, unknown>[] = [];
  for (const s of consumers) {
    docs.push({
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'TriggerAuthentication',
      metadata: { name: `${s.name}-kafka`, labels: labels(s) },
      spec: {
        env: [{ parameter: 'username', name: 'KAFKA_SASL_USERNAME', containerName: s.name }],
        secretTargetRef: [
          { parameter: 'password', name: userName(s.name as PrincipalName), key: 'password' },
          { parameter: 'ca', name: 'provisio-kafka-ca', key: 'ca.crt' },
        ],
      },
    });
    docs.push({
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name: s.name, labels: labels(s) },
      spec: {
        scaleTargetRef: { name: s.name },
        minReplicaCount: s.minReplicas,
        // More consumers than partitions would sit idle.
        maxReplicaCount: Math.max(s.minReplicas, maxPartitionsRead(s.name as PrincipalName, TOPICS)),
        pollingInterval: 15,
        cooldownPeriod: 300,
        advanced: {
          horizontalPodAutoscalerConfig: {
            behavior: { scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } },
          },
        },
        triggers: s.consumerGroups.map((g) => ({
          type: 'kafka',
          authenticationRef: { name: `${s.name}-kafka` },
          metadata: {
            bootstrapServers: COMMON_CONFIG['KAFKA_BROKERS']!,
            consumerGroup: g.group,
            ...(g.topics.length === 1 ? { topic: g.topics[0]! } : {}),
            lagThreshold: '200',
            offsetResetPolicy: 'earliest',
            allowIdleConsumers: 'false',
            sasl: 'scram_sha512',
            tls: 'enable',
          },
        })),
      },
    });
  }
  const http = SERVICES.filter((s) => s.consumerGroups.length === 0);
  for (const s of http) {
    docs.push({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: s.name, labels: labels(s) },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: s.name },
        minReplicas: s.minReplicas,
        maxReplicas: HTTP_MAX_REPLICAS,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
      },
    });
  }
  return {
    'components/autoscaling/kustomization.yaml': {
      kind: 'yaml',
      docs: [
        {
          apiVersion: 'kustomize.config.k8s.io/v1alpha1',
          kind: 'Component',
          resources: ['autoscaling.yaml'],
          // One place for the broker list: KEDA reads it from provisio-common.
          replacements: [
            {
              source: { kind: 'ConfigMap', name: 'provisio-common', fieldPath: 'data.KAFKA_BROKERS' },
              targets: [{ select: { kind: 'ScaledObject' }, fieldPaths: ['spec.triggers.*.metadata.bootstrapServers'] }],
            },
          ],
        },
      ],
    },
    'components/autoscaling/autoscaling.yaml': { kind: 'yaml', docs },
  };
}

export const STRIMZI_CLUSTER = 'kafka';

function strimzi(): Record<string, RenderedFile> {
  return {
    'components/strimzi/kustomization.yaml': {
      kind: 'yaml',
      docs: [{ apiVersion: 'kustomize.config.k8s.io/v1alpha1', kind: 'Component', resources: ['kafka-topics.yaml', 'kafka-users.yaml'] }],
    },
    'components/strimzi/kafka-topics.yaml': { kind: 'yaml', docs: kafkaTopics({ cluster: STRIMZI_CLUSTER }) as unknown as Record<string, unknown>[] },
    'components/strimzi/kafka-users.yaml': { kind: 'yaml', docs: kafkaUsers({ cluster: STRIMZI_CLUSTER }) as unknown as Record<string, unknown>[] },
  };
}

function kafkaAdminJob(): Record<string, RenderedFile> {
  const l = { 'app.kubernetes.io/name': 'kafka-admin', 'app.kubernetes.io/part-of': PART_OF, 'app.kubernetes.io/component': 'kafka-admin' };
  const job: Manifest = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'kafka-admin', labels: l },
    spec: {
      backoffLimit: 6,
      ttlSecondsAfterFinished: 86400,
      template: {
        metadata: { labels: l },
        spec: {
          ...jobPodBase('kafka-admin'),
          containers: [
            {
              name: 'kafka-admin',
              // Every Provisio image carries the admin command.
              image: `${IMAGE_REGISTRY}/audit:${IMAGE_TAG}`,
              command: ['node', '/app/libs/shared/kafka-admin/dist/cli.js', 'apply'],
              envFrom: [{ configMapRef: { name: 'provisio-common' } }],
              env: [
                // Optional, like the volume below: a cluster without SASL needs no admin credentials.
                { name: 'KAFKA_SASL_USERNAME', valueFrom: { secretKeyRef: { name: 'provisio-kafka-admin', key: 'username', optional: true } } },
                { name: 'NODE_OPTIONS', value: '--disable-warning=TimeoutNegativeWarning' },
              ],
              resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
              securityContext: RESTRICTED_CONTAINER,
              volumeMounts: [
                { name: 'kafka-user', mountPath: MOUNTS.kafkaUser, readOnly: true },
                { name: 'kafka-ca', mountPath: MOUNTS.kafkaCa, readOnly: true },
              ],
            },
          ],
          volumes: [
            { name: 'kafka-user', secret: { secretName: 'provisio-kafka-admin', optional: true, defaultMode: 0o440, items: [{ key: 'password', path: 'password' }] } },
            { name: 'kafka-ca', secret: { secretName: 'provisio-kafka-ca', optional: true, defaultMode: 0o444, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          ],
        },
      },
    },
  };
  const np: Manifest = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'kafka-admin', labels: l },
    spec: {
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'kafka-admin' } },
      policyTypes: ['Ingress', 'Egress'],
      // Kafka: provisio-egress-kafka (base/network-policy.yaml).
      egress: [{ to: [{ namespaceSelector: {}, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }], ports: EGRESS_PORTS.dns }],
    },
  };
  return {
    'components/kafka-admin-job/kustomization.yaml': {
      kind: 'yaml',
      docs: [{ apiVersion: 'kustomize.config.k8s.io/v1alpha1', kind: 'Component', resources: ['kafka-admin.yaml'] }],
    },
    'components/kafka-admin-job/kafka-admin.yaml': { kind: 'yaml', docs: [{ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'kafka-admin', labels: l }, automountServiceAccountToken: false }, job, np] },
  };
}

/** Every generated file, by path relative to deploy/kubernetes. */
export function renderAll(prometheus: { serviceMonitor: Record<string, unknown>; rule: Record<string, unknown> }): Record<string, RenderedFile> {
  return {
    ...base(),
    ...autoscaling(),
    ...strimzi(),
    ...kafkaAdminJob(),
    'components/prometheus-operator/kustomization.yaml': {
      kind: 'yaml',
      docs: [{ apiVersion: 'kustomize.config.k8s.io/v1alpha1', kind: 'Component', resources: ['monitoring.yaml'] }],
    },
    'components/prometheus-operator/monitoring.yaml': { kind: 'yaml', docs: [prometheus.serviceMonitor, prometheus.rule] },
  };
}
