// Validation of rendered Kubernetes objects against the Kubernetes and CRD schemas shipped by the
// kubernetes-models packages (core, KEDA, Prometheus operator, Strimzi), strictly: like
// `kubectl apply --validate=strict`, a field the schema does not define is an error, so a
// misspelled `securityContxt` cannot silently drop the restricted profile.
import { spawnSync } from 'node:child_process';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { KafkaTopic, KafkaUser } from '@kubernetes-models/strimzi-kafka-operator/kafka.strimzi.io/v1';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { CronJob, Job } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';

export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [k: string]: unknown };

type ModelClass = new (data: never) => { validate(): void };

/** Strimzi's operator only picks up resources labelled with the Kafka cluster they belong to. */
const needsStrimziCluster = (o: K8sObject) => (o.metadata.labels?.['strimzi.io/cluster'] ? [] : ['needs the strimzi.io/cluster label']);

const MODELS: Record<string, { model: ModelClass; extra?: (o: K8sObject) => string[] }> = {
  'v1/Namespace': { model: Namespace },
  'v1/ConfigMap': { model: ConfigMap },
  'v1/Secret': { model: Secret },
  'v1/Service': { model: Service },
  'v1/ServiceAccount': { model: ServiceAccount },
  'apps/v1/Deployment': { model: Deployment },
  'batch/v1/Job': { model: Job },
  'batch/v1/CronJob': { model: CronJob },
  'policy/v1/PodDisruptionBudget': { model: PodDisruptionBudget },
  'networking.k8s.io/v1/NetworkPolicy': { model: NetworkPolicy },
  'autoscaling/v2/HorizontalPodAutoscaler': { model: HorizontalPodAutoscaler },
  'keda.sh/v1alpha1/ScaledObject': { model: ScaledObject },
  'keda.sh/v1alpha1/TriggerAuthentication': { model: TriggerAuthentication },
  'monitoring.coreos.com/v1/ServiceMonitor': { model: ServiceMonitor },
  'monitoring.coreos.com/v1/PrometheusRule': { model: PrometheusRule },
  'kafka.strimzi.io/v1/KafkaTopic': { model: KafkaTopic, extra: needsStrimziCluster },
  'kafka.strimzi.io/v1/KafkaUser': { model: KafkaUser, extra: needsStrimziCluster },
};

/**
 * Objects whose schema deliberately accepts any key (x-kubernetes-preserve-unknown-fields):
 * nothing below them is a field of the schema. Paths as `fieldPath` prints them.
 */
const FREE_FORM: Record<string, RegExp[]> = {
  // Kafka topic configuration: any broker topic config name (the admin command validates them).
  'kafka.strimzi.io/v1/KafkaTopic': [/^spec\.config[.[]/],
};

type Segment = string | number;

/** A path as kubectl prints it: spec.template.spec.containers[0].securityContext, labels["a/b"]. */
export function fieldPath(path: Segment[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : /^[A-Za-z_$][\w$-]*$/.test(p) ? `${i === 0 ? '' : '.'}${p}` : `[${JSON.stringify(p)}]`)).join('');
}

const pointer = (path: Segment[]) => path.map((p) => `/${String(p).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');

/** The JSON pointers the schema complains about (empty: valid). */
function schemaErrors(model: ModelClass, o: unknown): string[] {
  try {
    new model(o as never).validate();
    return [];
  } catch (e) {
    const errors = (e as { errors?: { instancePath: string }[] }).errors;
    return errors ? errors.map((x) => x.instancePath) : [''];
  }
}

/**
 * A value no declared type accepts: not a string, number, boolean or object, and an array whose
 * items are arrays (no Kubernetes list holds lists). Only an untyped field takes it.
 */
const PROBE = [[{}]];

/**
 * Fields of `o` the schema does not define. The kubernetes-models validators (like the OpenAPI
 * schemas they come from) ignore unknown properties, so each field is probed: a defined field
 * rejects PROBE at its own path, an unknown one accepts anything. Maps (labels, ConfigMap data,
 * matchLabels) type their values, so their keys count as defined.
 */
export function unknownFields(o: K8sObject, model: ModelClass, freeForm: RegExp[] = []): string[] {
  const unknown: string[] = [];
  const walk = (node: unknown, path: Segment[]) => {
    if (Array.isArray(node)) {
      node.forEach((v, i) => walk(v, [...path, i]));
      return;
    }
    if (node === null || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
      const p = [...path, k];
      if (freeForm.some((re) => re.test(fieldPath(p)))) continue;
      const probe = structuredClone(o) as unknown as Record<Segment, unknown>;
      let parent: Record<Segment, unknown> = probe;
      for (const seg of path) parent = parent[seg] as Record<Segment, unknown>;
      parent[k] = PROBE;
      const at = pointer(p);
      if (!schemaErrors(model, probe).some((e) => e === at || e.startsWith(`${at}/`))) {
        unknown.push(fieldPath(p));
        continue;
      }
      walk(v, p);
    }
  };
  walk(o, []);
  return unknown;
}

/** Problems of one object: an unknown kind is one too (every kind we ship must be checked). */
export function validationProblems(o: K8sObject): string[] {
  const key = `${o.apiVersion}/${o.kind}`;
  const entry = MODELS[key];
  const name = `${o.kind} ${o.metadata?.name}`;
  if (!entry) return [`${name}: no schema for ${key}`];
  try {
    new entry.model(o as never).validate();
  } catch (e) {
    return [`${name}: ${(e as Error).message}`];
  }
  return [...(entry.extra?.(o) ?? []), ...unknownFields(o, entry.model, FREE_FORM[key]).map((p) => `unknown field ${p}`)].map((p) => `${name}: ${p}`);
}

/** `kubectl kustomize <dir>`: the overlay as `kubectl apply -k` would send it. */
export function kustomize(dir: string): K8sObject[] {
  const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  if (r.error) throw new Error(`kubectl is needed to render the Kustomize overlays (it ships kustomize): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${r.stderr}`);
  return parseAllDocuments(r.stdout).map((d) => d.toJSON() as K8sObject);
}
