// Validation of rendered Kubernetes objects against the Kubernetes and CRD schemas shipped by the
// kubernetes-models packages (core, KEDA, Prometheus operator, Strimzi).
import { spawnSync } from 'node:child_process';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { KafkaTopic, KafkaUser } from '@kubernetes-models/strimzi-kafka-operator/kafka.strimzi.io/v1';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { CronJob, Job } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';

export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [k: string]: unknown };

type Validator = (o: K8sObject) => void;
const model =
  (C: new (data: never) => { validate(): void }): Validator =>
  (o) =>
    new C(o as never).validate();

/** Strimzi's operator only picks up resources labelled with the Kafka cluster they belong to. */
const strimzi =
  (C: new (data: never) => { validate(): void }): Validator =>
  (o) => {
    new C(o as never).validate();
    if (!o.metadata.labels?.['strimzi.io/cluster']) throw new Error('needs the strimzi.io/cluster label');
  };

const VALIDATORS: Record<string, Validator> = {
  'v1/ConfigMap': model(ConfigMap),
  'v1/Secret': model(Secret),
  'v1/Service': model(Service),
  'v1/ServiceAccount': model(ServiceAccount),
  'apps/v1/Deployment': model(Deployment),
  'batch/v1/Job': model(Job),
  'batch/v1/CronJob': model(CronJob),
  'policy/v1/PodDisruptionBudget': model(PodDisruptionBudget),
  'networking.k8s.io/v1/NetworkPolicy': model(NetworkPolicy),
  'autoscaling/v2/HorizontalPodAutoscaler': model(HorizontalPodAutoscaler),
  'keda.sh/v1alpha1/ScaledObject': model(ScaledObject),
  'keda.sh/v1alpha1/TriggerAuthentication': model(TriggerAuthentication),
  'monitoring.coreos.com/v1/ServiceMonitor': model(ServiceMonitor),
  'monitoring.coreos.com/v1/PrometheusRule': model(PrometheusRule),
  'kafka.strimzi.io/v1/KafkaTopic': strimzi(KafkaTopic),
  'kafka.strimzi.io/v1/KafkaUser': strimzi(KafkaUser),
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
