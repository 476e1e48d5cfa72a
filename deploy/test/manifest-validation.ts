// Validation of rendered Kubernetes objects: the Kubernetes and CRD schemas shipped by the
// kubernetes-models packages, and Strimzi's KafkaTopic/KafkaUser (no models package exists)
// against a strict schema written from the Strimzi CRD reference.
import { spawnSync } from 'node:child_process';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';

export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [k: string]: unknown };

type Validator = (o: K8sObject) => void;
const model =
  (C: new (data: never) => { validate(): void }): Validator =>
  (o) =>
    new C(o as never).validate();

const strimziMeta = z.object({ name: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/).max(253), labels: z.record(z.string(), z.string()).refine((l) => Boolean(l['strimzi.io/cluster']), 'needs the strimzi.io/cluster label'), namespace: z.string().optional() });
const kafkaTopic = z.strictObject({
  apiVersion: z.enum(['kafka.strimzi.io/v1', 'kafka.strimzi.io/v1beta2']),
  kind: z.literal('KafkaTopic'),
  metadata: strimziMeta,
  spec: z.strictObject({ topicName: z.string().optional(), partitions: z.number().int().min(1).optional(), replicas: z.number().int().min(1).max(32767).optional(), config: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional() }),
});
const kafkaUser = z.strictObject({
  apiVersion: z.enum(['kafka.strimzi.io/v1', 'kafka.strimzi.io/v1beta2']),
  kind: z.literal('KafkaUser'),
  metadata: strimziMeta,
  spec: z.strictObject({
    userName: z.string().optional(),
    authentication: z.strictObject({ type: z.enum(['tls', 'tls-external', 'scram-sha-512']) }),
    authorization: z.strictObject({
      type: z.literal('simple'),
      acls: z.array(
        z.strictObject({
          type: z.enum(['allow', 'deny']).optional(),
          resource: z.strictObject({ type: z.enum(['topic', 'group', 'cluster', 'transactionalId']), name: z.string().optional(), patternType: z.enum(['literal', 'prefix']).optional() }),
          operations: z.array(z.enum(['Read', 'Write', 'Create', 'Delete', 'Alter', 'Describe', 'ClusterAction', 'AlterConfigs', 'DescribeConfigs', 'IdempotentWrite', 'All'])).min(1),
          host: z.string().optional(),
        }),
      ),
    }),
  }),
});
const zod =
  (schema: z.ZodType): Validator =>
  (o) => {
    const r = schema.safeParse(o);
    if (!r.success) throw new Error(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  };

const VALIDATORS: Record<string, Validator> = {
  'v1/ConfigMap': model(ConfigMap),
  'v1/Secret': model(Secret),
  'v1/Service': model(Service),
  'v1/ServiceAccount': model(ServiceAccount),
  'apps/v1/Deployment': model(Deployment),
  'batch/v1/Job': model(Job),
  'policy/v1/PodDisruptionBudget': model(PodDisruptionBudget),
  'networking.k8s.io/v1/NetworkPolicy': model(NetworkPolicy),
  'autoscaling/v2/HorizontalPodAutoscaler': model(HorizontalPodAutoscaler),
  'keda.sh/v1alpha1/ScaledObject': model(ScaledObject),
  'keda.sh/v1alpha1/TriggerAuthentication': model(TriggerAuthentication),
  'monitoring.coreos.com/v1/ServiceMonitor': model(ServiceMonitor),
  'monitoring.coreos.com/v1/PrometheusRule': model(PrometheusRule),
  'kafka.strimzi.io/v1/KafkaTopic': zod(kafkaTopic),
  'kafka.strimzi.io/v1/KafkaUser': zod(kafkaUser),
};

/** Problems of one object: an unknown kind is one too (every kind we ship must be checked). */
export function validationProblems(o: K8sObject): string[] {
  const validate = VALIDATORS[`${o.apiVersion}/${o.kind}`];
  if (!validate) return [`${o.kind} ${o.metadata?.name}: no schema for ${o.apiVersion}/${o.kind}`];
  try {
    validate(o);
    return [];
  } catch (e) {
    return [`${o.kind} ${o.metadata.name}: ${(e as Error).message}`];
  }
}

/** `kubectl kustomize <dir>`: the overlay as `kubectl apply -k` would send it. */
export function kustomize(dir: string): K8sObject[] {
  const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  if (r.error) throw new Error(`kubectl is needed to render the Kustomize overlays (it ships kustomize): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${r.stderr}`);
  return parseAllDocuments(r.stdout).map((d) => d.toJSON() as K8sObject);
}
