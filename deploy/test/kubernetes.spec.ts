import { describe, expect, it } from '@jest/globals';
import { databaseEnv, loadConfig } from '@provisio/config';
import { loadPolicy } from '@provisio/policy-domain';
import { SERVICES as SERVICE_SPECS, projectRoot } from '@provisio/devstack';
import { TOPICS, aclBindings, maxPartitionsRead, resolveTopics, userName, type PrincipalName } from '@provisio/kafka-admin';
import { globSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { EGRESS_DESTINATIONS, renderAll } from '../kubernetes/manifests.ts';
import { AUDIT_OWNER_JOBS, COMMON_CONFIG, SERVICES } from '../kubernetes/model.ts';
import { AuditTopics } from '../../services/audit/src/siem/feed-publisher.js';
import { prometheusRule, serviceMonitor } from '../kubernetes/monitoring.ts';
import { serialize } from '../kubernetes/serialize.ts';
import { kustomize, validationProblems, type K8sObject } from './manifest-validation.js';
import { SERVICE_CONFIGS, knownVariables } from './service-configs.js';
import { z } from 'zod';

const root = projectRoot();
const k8s = join(root, 'deploy/kubernetes');
const OVERLAYS = ['overlays/production', 'overlays/development'];
const rendered = Object.fromEntries(OVERLAYS.map((o) => [o, kustomize(join(k8s, o))]));

type Container = {
  name: string;
  image: string;
  envFrom?: { configMapRef?: { name: string } }[];
  env?: { name: string; value?: string }[];
  startupProbe?: { httpGet?: { path: string } };
  livenessProbe?: { httpGet?: { path: string } };
  readinessProbe?: { httpGet?: { path: string } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown> & { capabilities?: { drop?: string[] } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
};
type PodSpec = {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: Record<string, unknown> & { seccompProfile?: { type: string } };
  containers: Container[];
  volumes?: { name: string; secret?: { secretName: string; items?: { key: string; path: string }[] }; configMap?: { name: string; items?: unknown[] }; emptyDir?: unknown }[];
};
const podOf = (d: K8sObject) => (d['spec'] as { template: { metadata: { annotations?: Record<string, string>; labels?: Record<string, string> }; spec: PodSpec } }).template;
const of = (objs: K8sObject[], kind: string) => objs.filter((o) => o.kind === kind);
const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
type LabelSelector = { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] };
/** A label selector as Kubernetes evaluates it (matchLabels and `In` expressions). */
const selects = (selector: LabelSelector, labels: Record<string, string> | undefined) =>
  matches(selector.matchLabels, labels) &&
  (selector.matchExpressions ?? []).every((e) => {
    if (e.operator !== 'In') throw new Error(`selector operator ${e.operator} not understood by this test`);
    return labels?.[e.key] !== undefined && (e.values ?? []).includes(labels[e.key]!);
  });
type EgressRule = { to?: Record<string, LabelSelector>[]; ports: { port: number; endPort?: number; protocol: string }[] };
/** Every NetworkPolicy that applies to pods with these labels. */
const policiesSelecting = (objs: K8sObject[], labels: Record<string, string> | undefined) =>
  objs.filter((o) => o.kind === 'NetworkPolicy' && Object.keys((o['spec'] as { podSelector: LabelSelector }).podSelector).length > 0 && selects((o['spec'] as { podSelector: LabelSelector }).podSelector, labels));

/** The environment a container starts with: its ConfigMaps in order, then its own env. */
function containerEnv(objs: K8sObject[], c: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const ref of c.envFrom ?? []) {
    const cm = of(objs, 'ConfigMap').find((m) => m.metadata.name === ref.configMapRef?.name);
    expect({ configMap: ref.configMapRef?.name, exists: Boolean(cm) }).toEqual({ configMap: ref.configMapRef?.name, exists: true });
    Object.assign(env, cm!['data'] as Record<string, string>);
  }
  for (const e of c.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  return env;
}

describe('Kubernetes manifests', () => {
  it('are what render.ts makes from the model and the Kafka catalog (rerun it after changing them)', () => {
    const files = renderAll({ serviceMonitor, rule: prometheusRule });
    const stale = Object.entries(files)
      .filter(([path, file]) => {
        try {
          return readFileSync(join(k8s, path), 'utf8') !== serialize(file);
        } catch {
          return true;
        }
      })
      .map(([path]) => path);
    expect(stale).toEqual([]);
    // Nothing generated is left over from an earlier model either.
    const generated = globSync(['base/**/*', 'components/**/*'], { cwd: k8s }).filter((p) => /\.(ya?ml|env)$/.test(p));
    expect(generated.sort()).toEqual(Object.keys(files).sort());
  });

  it.each(OVERLAYS)('%s: every object is valid against its Kubernetes or CRD schema', (overlay) => {
    expect(rendered[overlay]!.flatMap(validationProblems)).toEqual([]);
  });

  it('rejects an invalid object, so the schema check is real', () => {
    const deployment = structuredClone(of(rendered['overlays/production']!, 'Deployment')[0]!);
    (podOf(deployment).spec.containers[0] as unknown as { ports: unknown }).ports = [{ containerPort: 'http' }];
    expect(validationProblems(deployment).join()).toMatch(/containerPort must be integer/);
    const user = structuredClone(of(rendered['overlays/production']!, 'KafkaUser')[0]!);
    (user['spec'] as { authorization: { acls: { operations: string[] }[] } }).authorization.acls[0]!.operations = ['Steal'];
    expect(validationProblems(user).join()).toMatch(/operations/);
    const topic = structuredClone(of(rendered['overlays/production']!, 'KafkaTopic')[0]!);
    (topic['spec'] as { partitions: unknown }).partitions = 'three';
    expect(validationProblems(topic).join()).toMatch(/partitions/);
    const unlabelled = structuredClone(of(rendered['overlays/production']!, 'KafkaTopic')[0]!);
    delete unlabelled.metadata.labels!['strimzi.io/cluster'];
    expect(validationProblems(unlabelled).join()).toMatch(/strimzi\.io\/cluster/);
    expect(validationProblems({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } })).toEqual(['Widget w: no schema for example.com/v1/Widget']);
  });

  it('rejects fields the schemas do not define, naming their path (core, KEDA and Strimzi kinds)', () => {
    const objs = rendered['overlays/production']!;
    const find = (kind: string) => structuredClone(of(objs, kind)[0]!) as K8sObject & { spec: Record<string, never> } & Record<string, unknown>;
    const deployment = find('Deployment');
    const container = podOf(deployment).spec.containers[0] as unknown as Record<string, unknown> & { securityContext: Record<string, unknown> };
    container['securityContxt'] = container.securityContext;
    container.securityContext['runAsNonRot'] = true;
    deployment['spec2'] = {};
    expect(validationProblems(deployment)).toEqual([
      `Deployment ${deployment.metadata.name}: unknown field spec.template.spec.containers[0].securityContext.runAsNonRot`,
      `Deployment ${deployment.metadata.name}: unknown field spec.template.spec.containers[0].securityContxt`,
      `Deployment ${deployment.metadata.name}: unknown field spec2`,
    ]);
    const policy = find('NetworkPolicy');
    (policy.metadata as Record<string, unknown>)['label'] = { a: 'b' };
    expect(validationProblems(policy)).toEqual([`NetworkPolicy ${policy.metadata.name}: unknown field metadata.label`]);

    const scaled = find('ScaledObject') as unknown as K8sObject & { spec: { triggers: Record<string, unknown>[] } & Record<string, unknown> };
    scaled.spec['maxReplicas'] = 3;
    scaled.spec.triggers[0]!['authRef'] = { name: 'x' };
    expect(validationProblems(scaled)).toEqual([`ScaledObject ${scaled.metadata.name}: unknown field spec.triggers[0].authRef`, `ScaledObject ${scaled.metadata.name}: unknown field spec.maxReplicas`]);

    const user = find('KafkaUser') as unknown as K8sObject & { spec: { authorization: { acls: { resource: Record<string, unknown> }[] } } & Record<string, unknown> };
    user.spec['quota'] = { producerByteRate: 1 };
    user.spec.authorization.acls[0]!.resource['patternTyp'] = 'literal';
    expect(validationProblems(user)).toEqual([`KafkaUser ${user.metadata.name}: unknown field spec.authorization.acls[0].resource.patternTyp`, `KafkaUser ${user.metadata.name}: unknown field spec.quota`]);

    // A topic's config takes any Kafka topic config name (free-form in the CRD); its spec does not.
    const topic = find('KafkaTopic') as unknown as K8sObject & { spec: { config: Record<string, string> } & Record<string, unknown> };
    topic.spec.config['retention.bytes'] = '1073741824';
    expect(validationProblems(topic)).toEqual([]);
    topic.spec['partition'] = 3;
    expect(validationProblems(topic)).toEqual([`KafkaTopic ${topic.metadata.name}: unknown field spec.partition`]);
  });

  describe.each(OVERLAYS)('%s', (overlay) => {
    const objs = rendered[overlay]!;
    const deployments = of(objs, 'Deployment');

    it('has a Deployment per service, and nothing in the namespace without a NetworkPolicy', () => {
      expect(deployments.map((d) => d.metadata.name).sort()).toEqual(SERVICE_SPECS.map((s) => s.name).sort());
      expect(of(objs, 'NetworkPolicy').some((p) => JSON.stringify((p['spec'] as { podSelector: unknown }).podSelector) === '{}')).toBe(true);
    });

    it.each(SERVICE_SPECS.map((s) => s.name))('%s: probes, limits, non-root, read-only, no privilege, no token, a PDB, a NetworkPolicy, a Service, scraping', (name) => {
      const d = deployments.find((x) => x.metadata.name === name)!;
      const pod = podOf(d);
      const c = pod.spec.containers[0]!;
      expect(pod.spec.containers).toHaveLength(1);
      expect(c.startupProbe?.httpGet?.path).toBe('/health/live');
      expect(c.livenessProbe?.httpGet?.path).toBe('/health/live');
      expect(c.readinessProbe?.httpGet?.path).toBe('/health/ready');
      for (const r of ['cpu', 'memory']) {
        expect(c.resources?.requests?.[r]).toBeTruthy();
        expect(c.resources?.limits?.[r]).toBeTruthy();
      }
      expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(Number(pod.spec.securityContext?.['runAsUser'])).toBeGreaterThan(0);
      expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
      expect(c.image).toMatch(/:[\w.-]+$/);
      expect(c.image).not.toMatch(/:latest$/);
      expect(pod.spec.automountServiceAccountToken).toBe(false);
      const sa = of(objs, 'ServiceAccount').find((x) => x.metadata.name === pod.spec.serviceAccountName);
      expect(sa?.['automountServiceAccountToken']).toBe(false);
      const labels = (d['spec'] as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
      expect(of(objs, 'PodDisruptionBudget').filter((p) => matches((p['spec'] as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels, labels))).toHaveLength(1);
      const policies = of(objs, 'NetworkPolicy').filter((p) => {
        const sel = (p['spec'] as { podSelector: { matchLabels?: Record<string, string> } }).podSelector.matchLabels;
        return sel !== undefined && matches(sel, labels);
      });
      expect(policies).toHaveLength(1);
      const np = policies[0]!['spec'] as { policyTypes: string[]; ingress: { ports: { port: unknown }[] }[]; egress: { ports: { port: number; protocol: string }[] }[] };
      expect(np.policyTypes.sort()).toEqual(['Egress', 'Ingress']);
      expect(np.ingress.flatMap((r) => r.ports.map((p) => p.port))).toEqual(['http']);
      expect(np.egress.flatMap((r) => r.ports).some((p) => p.port === 53 && p.protocol === 'UDP')).toBe(true);
      const svc = of(objs, 'Service').find((s) => matches((s['spec'] as { selector: Record<string, string> }).selector, labels));
      expect((svc?.['spec'] as { ports: { targetPort: string }[] }).ports[0]!.targetPort).toBe('http');
      expect(pod.metadata.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/path': '/metrics' });
    });

    it("creates its namespace with Pod Security Admission enforcing `restricted`, which every pod template (services and jobs) meets", () => {
      const namespaces = of(objs, 'Namespace');
      const inNamespace = new Set(objs.filter((o) => o.kind !== 'Namespace').map((o) => o.metadata.namespace));
      expect(namespaces.map((n) => n.metadata.name)).toEqual([...inNamespace]);
      expect(namespaces[0]!.metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted', 'pod-security.kubernetes.io/audit': 'restricted' });
      const templates = objs.flatMap((o) => {
        const spec = o['spec'] as { template?: { spec?: PodSpec & Record<string, unknown> }; jobTemplate?: { spec: { template: { spec: PodSpec & Record<string, unknown> } } } } | undefined;
        const pod = spec?.template?.spec ?? spec?.jobTemplate?.spec.template.spec;
        return pod ? [{ object: `${o.kind}/${o.metadata.name}`, pod }] : [];
      });
      expect(templates.map((t) => t.object)).toEqual(expect.arrayContaining(['Deployment/audit', 'Job/audit-migrate', 'CronJob/audit-retention']));
      for (const { object, pod } of templates) {
        // The restricted profile (https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted).
        const containers = [...pod.containers, ...((pod['initContainers'] as Container[] | undefined) ?? [])];
        const problems = [
          ...(['hostNetwork', 'hostPID', 'hostIPC'] as const).filter((k) => pod[k]).map((k) => k),
          ...((pod.volumes ?? []) as Record<string, unknown>[]).filter((v) => v['hostPath']).map(() => 'hostPath'),
          ...containers.flatMap((c) => {
            const sc = c.securityContext ?? {};
            const seccomp = (sc['seccompProfile'] as { type?: string } | undefined)?.type ?? pod.securityContext?.seccompProfile?.type;
            return [
              ...(sc['privileged'] ? [`${c.name}: privileged`] : []),
              ...(sc['allowPrivilegeEscalation'] === false ? [] : [`${c.name}: allowPrivilegeEscalation`]),
              ...((sc['runAsNonRoot'] ?? pod.securityContext?.['runAsNonRoot']) === true ? [] : [`${c.name}: runAsNonRoot`]),
              ...(seccomp === 'RuntimeDefault' || seccomp === 'Localhost' ? [] : [`${c.name}: seccompProfile`]),
              ...(sc.capabilities?.drop?.includes('ALL') ? [] : [`${c.name}: capabilities.drop ALL`]),
              ...((sc.capabilities as { add?: string[] } | undefined)?.add?.filter((a) => a !== 'NET_BIND_SERVICE').map((a) => `${c.name}: adds ${a}`) ?? []),
            ];
          }),
        ];
        expect({ object, problems }).toEqual({ object, problems: [] });
      }
    });

    it('sets no replicas on a Deployment an autoscaler owns, so re-applying the manifests never resets a scaled-out service', () => {
      const scaled = new Set([
        ...of(objs, 'ScaledObject').map((o) => (o['spec'] as { scaleTargetRef: { name: string } }).scaleTargetRef.name),
        ...of(objs, 'HorizontalPodAutoscaler').map((o) => (o['spec'] as { scaleTargetRef: { name: string } }).scaleTargetRef.name),
      ]);
      if (overlay === 'overlays/production') expect([...scaled].sort()).toEqual(deployments.map((d) => d.metadata.name).sort());
      else expect(scaled.size).toBe(0);
      for (const d of deployments) {
        const replicas = (d['spec'] as { replicas?: number }).replicas;
        // Autoscaled: the autoscaler's count stands. Not autoscaled (development): Kubernetes' default, one pod.
        expect({ deployment: d.metadata.name, replicas }).toEqual({ deployment: d.metadata.name, replicas: undefined });
      }
    });

    it('opens Kafka and PostgreSQL egress through one shared policy per destination, for exactly the pods that need it', () => {
      const egressOf = (name: string) => (objs.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === name)!['spec'] as { egress: EgressRule[] }).egress;
      for (const [dest, d] of Object.entries(EGRESS_DESTINATIONS)) {
        const rules = egressOf(d.policy);
        expect({ dest, ports: rules.flatMap((r) => r.ports) }).toEqual({ dest, ports: [...d.ports] });
        for (const dep of deployments) {
          const labels = podOf(dep).metadata.labels;
          const policies = policiesSelecting(objs, labels).map((p) => p.metadata.name);
          expect({ dest, deployment: dep.metadata.name, selected: policies.includes(d.policy) }).toEqual({ dest, deployment: dep.metadata.name, selected: true });
          // The service's own policy does not open the same ports to everywhere behind the shared one's back.
          const own = (objs.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === dep.metadata.name)!['spec'] as { egress: EgressRule[] }).egress.flatMap((r) => r.ports.map((p) => p.port));
          const allowed = dep.metadata.name === 'connector-postgres' && dest === 'postgres' ? [5432] : [];
          expect({ dest, deployment: dep.metadata.name, own: own.filter((p) => d.ports.some((x) => p >= x.port && p <= ('endPort' in x ? x.endPort : x.port)) && !allowed.includes(p)) }).toEqual({ dest, deployment: dep.metadata.name, own: [] });
        }
      }
      // Narrowed in production (Strimzi runs in the cluster); by port elsewhere (external clusters).
      const kafkaTo = egressOf(EGRESS_DESTINATIONS.kafka.policy)[0]!.to;
      if (overlay === 'overlays/production') {
        expect(kafkaTo).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kafka' } }, podSelector: { matchLabels: { 'strimzi.io/cluster': 'kafka', 'strimzi.io/kind': 'Kafka' } } }]);
      } else expect(kafkaTo).toBeUndefined();
      expect(egressOf(EGRESS_DESTINATIONS.postgres.policy)[0]!.to).toBeUndefined();
    });

    it.each(SERVICE_SPECS.map((s) => s.name))("%s: its environment is exactly what its configSchema accepts, secrets read from mounted files", (name) => {
      const d = deployments.find((x) => x.metadata.name === name)!;
      const pod = podOf(d).spec;
      const c = pod.containers[0]!;
      const env = containerEnv(objs, c);
      const unknown = Object.keys(env).filter((k) => !knownVariables(name).has(k));
      expect({ name, unknown }).toEqual({ name, unknown: [] });
      // Every NAME_FILE points into a mounted Secret, at a key that Secret is declared to hold.
      const files = mkdtempSync(join(tmpdir(), `env-${name}-`));
      const model = SERVICES.find((s) => s.name === name)!;
      const resolved: Record<string, string> = { ...env };
      for (const [k, path] of Object.entries(env).filter(([k, v]) => k.endsWith('_FILE') && v !== '')) {
        const mount = (c.volumeMounts ?? []).find((m) => dirname(path) === m.mountPath);
        expect({ variable: k, path, mounted: Boolean(mount) }).toEqual({ variable: k, path, mounted: true });
        const volume = pod.volumes?.find((v) => v.name === mount!.name);
        expect(volume?.secret).toBeDefined();
        const keys = volume!.secret!.items ? volume!.secret!.items.map((i) => i.path) : model.secrets;
        expect({ variable: k, key: basename(path), declared: keys.includes(basename(path)) }).toEqual({ variable: k, key: basename(path), declared: true });
        const file = join(files, basename(path));
        writeFileSync(file, k.endsWith('URL_FILE') ? 'postgres://provisio:secret@db.example:5432/provisio' : 'secret-value');
        resolved[k] = file;
      }
      // Secrets inside target definitions are { file } references into the same mounted Secret, never values.
      if (resolved['CONNECTOR_TARGETS'] !== undefined) {
        const refs: string[] = [];
        const standIn = (node: unknown, key = ''): unknown => {
          if (Array.isArray(node)) return node.map((n) => standIn(n));
          if (node === null || typeof node !== 'object') {
            expect({ name, key, inlineSecret: /password|token|secret/i.test(key) && typeof node === 'string' }).toEqual({ name, key, inlineSecret: false });
            return node;
          }
          const o = node as Record<string, unknown>;
          if (Object.keys(o).length === 1 && typeof o['file'] === 'string') {
            const path = o['file'];
            refs.push(path);
            const mount = (c.volumeMounts ?? []).find((m) => dirname(path) === m.mountPath);
            const volume = pod.volumes?.find((v) => v.name === mount?.name);
            expect({ name, path, mountedSecretKey: Boolean(volume?.secret) && model.secrets.includes(basename(path)) }).toEqual({ name, path, mountedSecretKey: true });
            const file = join(files, `target-${basename(path)}`);
            writeFileSync(file, 'secret-value');
            return { file };
          }
          return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, standIn(v, k)]));
        };
        resolved['CONNECTOR_TARGETS'] = JSON.stringify(standIn(JSON.parse(resolved['CONNECTOR_TARGETS'])));
        // Every secret the model declares for the service is read by something: a NAME_FILE variable or a target.
        const read = new Set([...Object.entries(env).filter(([k]) => k.endsWith('_FILE')).map(([, v]) => basename(v)), ...refs.map((r) => basename(r))]);
        expect({ name, unread: model.secrets.filter((k) => !read.has(k)) }).toEqual({ name, unread: [] });
      }
      const config = loadConfig(SERVICE_CONFIGS[name]!, resolved) as { CONNECTOR_TARGETS?: unknown[]; TARGET_POSTGRES_URL?: string };
      // A connector always gets targets to serve (an empty list would fail every command as UNKNOWN_TARGET).
      if (name.startsWith('connector-')) expect({ name, targets: (config.CONNECTOR_TARGETS?.length ?? 0) + (config.TARGET_POSTGRES_URL ? 1 : 0) > 0 }).toEqual({ name, targets: true });
      // The owner credentials (migrations) stay apart from the runtime role; audit's pods never
      // get them (its owner jobs do, see below).
      expect(env['DATABASE_URL_FILE']).not.toBe(env['DATABASE_MIGRATION_URL_FILE']);
      if (name === 'audit') {
        expect(env).not.toHaveProperty('DATABASE_MIGRATION_URL_FILE');
        expect(env).not.toHaveProperty('DATABASE_MIGRATION_URL');
        expect(model.secrets).not.toContain('DATABASE_MIGRATION_URL');
        expect(pod.volumes?.map((v) => v.secret?.secretName)).not.toContain(AUDIT_OWNER_JOBS.secret);
        // What the pod runs with starts without the owner: no in-process retention.
        expect(loadConfig(SERVICE_CONFIGS[name]!, resolved)).not.toHaveProperty('AUDIT_RETENTION_MONTHS');
      } else {
        expect(env['DATABASE_MIGRATION_URL_FILE']).toBeTruthy();
      }
      // Secret values are never in a ConfigMap.
      for (const k of Object.keys(env)) expect({ k, secretInConfigMap: /PASSWORD$|_URL$|SECRET|PRIVATE_KEY$/.test(k) && !k.startsWith('AUTH_JWKS') && k !== 'OTEL_EXPORTER_OTLP_ENDPOINT' }).toEqual({ k, secretInConfigMap: false });
    });
  });

  /** The policy files the policy Deployment runs on: the ConfigMap mounted where POLICY_PATH points. */
  function policyFiles(objs: K8sObject[]): { path: string; mount: { mountPath: string; readOnly?: boolean }; files: { name: string; content: string }[] } {
    const pod = podOf(of(objs, 'Deployment').find((d) => d.metadata.name === 'policy')!).spec;
    const c = pod.containers[0]!;
    const path = containerEnv(objs, c)['POLICY_PATH'];
    expect(path).toBeTruthy();
    const mount = (c.volumeMounts ?? []).find((m) => path === m.mountPath || path!.startsWith(`${m.mountPath}/`));
    expect({ path, mounted: Boolean(mount) }).toEqual({ path, mounted: true });
    const volume = pod.volumes?.find((v) => v.name === mount!.name);
    // The whole ConfigMap (no items filter), so every policy file a site puts in it is read.
    expect(volume?.configMap).toBeDefined();
    expect(volume!.configMap!.items).toBeUndefined();
    const cm = of(objs, 'ConfigMap').find((m) => m.metadata.name === volume!.configMap!.name);
    expect(cm).toBeDefined();
    const data = cm!['data'] as Record<string, string>;
    // POLICY_PATH is the mounted folder (every *.yaml file) or one file in it.
    const wanted = path === mount!.mountPath ? Object.keys(data).filter((k) => /\.ya?ml$/.test(k)) : [relative(mount!.mountPath, path!)];
    return { path: path!, mount: mount!, files: wanted.map((name) => ({ name, content: data[name]! })) };
  }

  /** The target ids the connectors serve: CONNECTOR_TARGETS ids and TARGET_POSTGRES_ID. */
  function connectorTargetIds(objs: K8sObject[]): string[] {
    return of(objs, 'Deployment')
      .filter((d) => d.metadata.name.startsWith('connector-'))
      .flatMap((d) => {
        const env = containerEnv(objs, podOf(d).spec.containers[0]!);
        return [...(JSON.parse(env['CONNECTOR_TARGETS'] ?? '[]') as { id: string }[]).map((t) => t.id), ...(env['TARGET_POSTGRES_ID'] ? [env['TARGET_POSTGRES_ID']] : [])];
      })
      .sort();
  }

  describe.each(OVERLAYS)('%s: the policy service', (overlay) => {
    const objs = rendered[overlay]!;

    it('runs on the shipped policy file, mounted read-only from its ConfigMap, never on the bundled sample', () => {
      const { mount, files } = policyFiles(objs);
      expect(mount.readOnly).toBe(true);
      expect(files.length).toBeGreaterThan(0);
    });

    it("ships a policy the loader accepts whose targets are exactly the connectors' targets", () => {
      const { files } = policyFiles(objs);
      const result = loadPolicy(files);
      expect(result.ok ? [] : result.problems).toEqual([]);
      const ids = result.ok ? result.policy.targets.map((t) => t.id).sort() : [];
      expect(connectorTargetIds(objs)).toEqual(['corp-ldap', 'postgres', 'scim-app']);
      expect(ids).toEqual(connectorTargetIds(objs));
    });
  });

  it("lets a site overlay label the ServiceMonitor and PrometheusRule for its Prometheus' selectors, as docs/deployment.md shows", () => {
    const doc = readFileSync(join(root, 'docs/deployment.md'), 'utf8');
    const monitoring = doc.slice(doc.indexOf('### Monitoring'));
    const snippet = /```yaml\n([\s\S]*?)```/.exec(monitoring)![1]!;
    expect(snippet).toMatch(/^labels:/);
    const dir = mkdtempSync(join(tmpdir(), 'provisio-overlay-'));
    try {
      const production = join(k8s, 'overlays/production');
      writeFileSync(join(dir, 'namespace.yaml'), readFileSync(join(production, 'namespace.yaml')));
      writeFileSync(join(dir, 'kustomization.yaml'), `${readFileSync(join(production, 'kustomization.yaml'), 'utf8').replaceAll('../../', `${relative(dir, k8s)}/`)}\n${snippet}`);
      const labelled = kustomize(dir)
        .filter((o) => o.metadata.labels?.['release'] === 'kube-prometheus-stack')
        .map((o) => o.kind)
        .sort();
      expect(labelled).toEqual(['PrometheusRule', 'ServiceMonitor']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lets a site overlay replace the policy files with its own (docs/deployment.md)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'provisio-overlay-'));
    try {
      const own = 'apiVersion: provisio.dev/v1\nkind: Policy\nmetadata: { name: site }\ntargets:\n  - { id: corp-ldap, kind: ldap, account: { name: lower(userName) } }\n';
      writeFileSync(join(dir, 'site-policy.yaml'), own);
      writeFileSync(
        join(dir, 'kustomization.yaml'),
        `resources: [${relative(dir, join(k8s, 'base'))}]\nconfigMapGenerator:\n  - name: provisio-policy-files\n    behavior: replace\n    files: [site-policy.yaml]\n`,
      );
      const { files } = policyFiles(kustomize(dir));
      expect(files).toEqual([{ name: 'site-policy.yaml', content: own }]);
      const result = loadPolicy(files);
      expect(result.ok ? result.policy.targets.map((t) => t.id) : result.problems).toEqual(['corp-ldap']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lets a site overlay narrow Kafka and PostgreSQL egress to in-cluster pods with selectors (docs/deployment.md)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'provisio-overlay-'));
    try {
      const narrow = (policy: string, ns: string, pod: string) =>
        `  - target: { kind: NetworkPolicy, name: ${policy} }\n    patch: |-\n      - op: add\n        path: /spec/egress/0/to\n        value:\n          - namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: ${ns} } }\n            podSelector: { matchLabels: { app: ${pod} } }\n`;
      writeFileSync(
        join(dir, 'kustomization.yaml'),
        `resources: [${relative(dir, join(k8s, 'base'))}]\ncomponents: [${relative(dir, join(k8s, 'components/kafka-admin-job'))}]\npatches:\n${narrow(EGRESS_DESTINATIONS.kafka.policy, 'streaming', 'broker')}${narrow(EGRESS_DESTINATIONS.postgres.policy, 'databases', 'pg')}`,
      );
      const objs = kustomize(dir);
      expect(objs.flatMap(validationProblems)).toEqual([]);
      const to = (name: string) => (objs.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === name)!['spec'] as { egress: EgressRule[] }).egress.map((r) => r.to);
      expect(to(EGRESS_DESTINATIONS.kafka.policy)).toEqual([[{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'streaming' } }, podSelector: { matchLabels: { app: 'broker' } } }]]);
      expect(to(EGRESS_DESTINATIONS.postgres.policy)).toEqual([[{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'databases' } }, podSelector: { matchLabels: { app: 'pg' } } }]]);
      // Narrowed for every pod that talks to them, the admin Job included; no other policy reopens the ports.
      const job = objs.find((o) => o.kind === 'Job' && o.metadata.name === 'kafka-admin')!;
      expect(policiesSelecting(objs, podOf(job).metadata.labels).map((p) => p.metadata.name).sort()).toEqual(['kafka-admin', EGRESS_DESTINATIONS.kafka.policy]);
      const openKafka = objs.filter((o) => o.kind === 'NetworkPolicy' && o.metadata.name !== EGRESS_DESTINATIONS.kafka.policy).flatMap((o) => ((o['spec'] as { egress?: EgressRule[] }).egress ?? []).filter((r) => r.ports.some((p) => p.port >= 9092 && p.port <= 9094)).map(() => o.metadata.name));
      expect(openKafka).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('development: no SASL, so audit replays with its one client (replay credentials blanked)', () => {
    const objs = rendered['overlays/development']!;
    const env = containerEnv(objs, podOf(of(objs, 'Deployment').find((d) => d.metadata.name === 'audit')!).spec.containers[0]!);
    expect({ mechanism: env['KAFKA_SASL_MECHANISM'], user: env['KAFKA_REPLAY_SASL_USERNAME'], file: env['KAFKA_REPLAY_SASL_PASSWORD_FILE'] }).toEqual({ mechanism: '', user: '', file: '' });
  });

  it('development: the kafka-admin Job creates topics without ACLs (a development Kafka has no authorizer)', () => {
    const job = of(rendered['overlays/development']!, 'Job').find((j) => j.metadata.name === 'kafka-admin')!;
    const c = podOf(job).spec.containers[0] as Container & { command: string[]; args?: string[] };
    expect([...c.command, ...(c.args ?? [])]).toEqual(['node', '/app/libs/shared/kafka-admin/dist/cli.js', 'apply', '--replication-factor', '1', '--no-acls']);
    const prod = of(rendered['overlays/production']!, 'Job').find((j) => j.metadata.name === 'kafka-admin');
    if (prod) expect((podOf(prod).spec.containers[0] as Container & { args?: string[] }).args ?? []).not.toContain('--no-acls');
  });

  describe('production', () => {
    const objs = rendered['overlays/production']!;

    it("sizes PostgreSQL connections in the runbook at the autoscalers' maxima × the default pool", () => {
      const pool = z.object(databaseEnv).shape.DATABASE_POOL_MAX.parse(undefined);
      const maxPods = (name: string) => {
        const so = of(objs, 'ScaledObject').find((o) => (o['spec'] as { scaleTargetRef: { name: string } }).scaleTargetRef.name === name);
        if (so) return (so['spec'] as { maxReplicaCount: number }).maxReplicaCount;
        return (of(objs, 'HorizontalPodAutoscaler').find((o) => (o['spec'] as { scaleTargetRef: { name: string } }).scaleTargetRef.name === name)!['spec'] as { maxReplicas: number }).maxReplicas;
      };
      const runbook = readFileSync(join(root, 'docs/runbook.md'), 'utf8');
      expect(runbook).toContain(`Connections at \`DATABASE_POOL_MAX\` ${pool} |`);
      let pods = 0;
      for (const s of SERVICES) {
        const n = maxPods(s.name);
        pods += n;
        expect(runbook).toMatch(new RegExp(`^  \\| ${s.name} \\| ${n} \\([^)]*\\) \\| ${n * pool} \\|$`, 'm'));
      }
      expect(runbook).toContain(`  | total | ${pods} | ${pods * pool} |`);
    });

    it('never stops a KEDA-scaled service with kubectl scale in the docs (KEDA would scale it back): they pause its ScaledObject', () => {
      const keda = new Set(of(objs, 'ScaledObject').map((o) => (o['spec'] as { scaleTargetRef: { name: string } }).scaleTargetRef.name));
      const docs = globSync('docs/*.md', { cwd: root }).map((f) => ({ f, text: readFileSync(join(root, f), 'utf8') }));
      const scaled = docs.flatMap(({ f, text }) => [...text.matchAll(/kubectl (?:-n \S+ )?scale (?:deploy|deployment)\/([a-z-]+)/g)].map((m) => ({ f, deployment: m[1]! })));
      expect(scaled.length).toBeGreaterThan(0);
      for (const x of scaled) expect({ ...x, keda: keda.has(x.deployment) }).toEqual({ ...x, keda: false });
      const runbook = readFileSync(join(root, 'docs/runbook.md'), 'utf8');
      expect(runbook).toContain('autoscaling.keda.sh/paused-replicas=0');
      expect(runbook).toContain('autoscaling.keda.sh/paused-replicas-');
    });

    it("runs audit's migrations and retention as jobs that alone hold the owner credentials", () => {
      const job = of(objs, 'Job').find((j) => j.metadata.name === 'audit-migrate')!;
      const cron = of(objs, 'CronJob').find((j) => j.metadata.name === 'audit-retention')!;
      expect(job).toBeDefined();
      expect(cron).toBeDefined();
      const cronSpec = cron['spec'] as { schedule: string; concurrencyPolicy: string; jobTemplate: { spec: { template: { metadata: { labels: Record<string, string> }; spec: PodSpec } } } };
      expect(cronSpec).toMatchObject({ concurrencyPolicy: 'Forbid' });
      const pods: { metadata: { labels?: Record<string, string> }; spec: PodSpec }[] = [podOf(job) as { metadata: { labels?: Record<string, string> }; spec: PodSpec }, cronSpec.jobTemplate.spec.template];
      const commands = pods.map((p) => (p.spec.containers[0] as Container & { command: string[] }).command);
      expect(commands).toEqual([
        ['node', '/app/services/audit/dist/cli.js', 'migrate', '--require-least-privilege'],
        ['node', '/app/services/audit/dist/cli.js', 'retention', '--keep-months', String(AUDIT_OWNER_JOBS.retention.keepMonths)],
      ]);
      for (const p of pods) {
        const c = p.spec.containers[0]!;
        const env = containerEnv(objs, c);
        expect(Object.keys(env).filter((k) => !knownVariables('audit').has(k))).toEqual([]);
        // The owner's URL is read from the owner Secret, mounted here and in no Deployment.
        const mount = c.volumeMounts!.find((m) => m.mountPath === dirname(env['DATABASE_MIGRATION_URL_FILE']!))!;
        expect(p.spec.volumes!.find((v) => v.name === mount.name)?.secret?.secretName).toBe(AUDIT_OWNER_JOBS.secret);
        expect(env['DATABASE_URL_FILE']).toBeTruthy();
        expect(p.spec.automountServiceAccountToken).toBe(false);
        expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true });
        // Default deny applies; their own policy and the shared PostgreSQL one let them reach DNS and PostgreSQL only.
        const policies = policiesSelecting(objs, p.metadata.labels);
        expect(policies.map((np) => np.metadata.name).sort()).toEqual(['audit-owner', 'provisio-egress-postgres']);
        const egress = policies.flatMap((np) => (np['spec'] as { egress: EgressRule[] }).egress.flatMap((r) => r.ports.map((x) => x.port)));
        expect(egress.sort()).toEqual([53, 53, 5432]);
      }
      for (const d of of(objs, 'Deployment')) {
        const volumes = (podOf(d).spec.volumes ?? []).map((v) => v.secret?.secretName);
        expect({ deployment: d.metadata.name, ownerSecret: volumes.includes(AUDIT_OWNER_JOBS.secret) }).toEqual({ deployment: d.metadata.name, ownerSecret: false });
      }
    });

    it('declares a topic, with audit as writer and the SIEM as reader, for every SIEM format audit can publish', () => {
      const topics = of(objs, 'KafkaTopic').map((t) => ((t['spec'] as { topicName?: string }).topicName ?? t.metadata.name));
      for (const format of ['ocsf', 'cef', 'ecs'] as const) {
        const topic = AuditTopics.siemFor(format);
        expect({ format, topic, declared: topics.includes(topic) }).toEqual({ format, topic, declared: true });
        const may = (principal: PrincipalName, op: string) =>
          aclBindings().some((b) => b.user === userName(principal) && b.operation === op && b.resourceType === 'topic' && (b.patternType === 'prefix' ? topic.startsWith(b.resourceName) : b.resourceName === topic));
        expect({ topic, write: may('audit', 'Write'), read: may('siem-reader', 'Read') }).toEqual({ topic, write: true, read: true });
      }
    });

    it('scales every consumer on its lag with KEDA, capped at the partitions it reads, authenticated as the service', () => {
      const common = of(objs, 'ConfigMap').find((m) => m.metadata.name.startsWith('provisio-common'))!['data'] as Record<string, string>;
      for (const s of SERVICES.filter((x) => x.consumerGroups.length > 0)) {
        const so = of(objs, 'ScaledObject').find((o) => o.metadata.name === s.name)!;
        const spec = so['spec'] as { scaleTargetRef: { name: string }; maxReplicaCount: number; minReplicaCount: number; triggers: { type: string; metadata: Record<string, string>; authenticationRef: { name: string } }[] };
        expect(spec.scaleTargetRef.name).toBe(s.name);
        expect(spec.maxReplicaCount).toBe(maxPartitionsRead(s.name as PrincipalName));
        expect(spec.maxReplicaCount).toBeLessThanOrEqual(Math.max(...TOPICS.map((t) => t.partitions)));
        const acls = aclBindings().filter((b) => b.user === userName(s.name as PrincipalName));
        for (const t of spec.triggers) {
          expect(t.type).toBe('kafka');
          expect(t.metadata['bootstrapServers']).toBe(common['KAFKA_BROKERS']);
          expect(t.metadata).toMatchObject({ sasl: 'scram_sha512', tls: 'enable', allowIdleConsumers: 'false' });
          // The group and topic are ones the service's principal may read.
          expect(acls.some((b) => b.resourceType === 'group' && t.metadata['consumerGroup']!.startsWith(b.resourceName))).toBe(true);
          if (t.metadata['topic']) expect(acls.some((b) => b.operation === 'Read' && (b.patternType === 'prefix' ? t.metadata['topic']!.startsWith(b.resourceName) : b.resourceName === t.metadata['topic']))).toBe(true);
          const auth = of(objs, 'TriggerAuthentication').find((a) => a.metadata.name === t.authenticationRef.name)!;
          expect((auth['spec'] as { secretTargetRef: { name: string }[] }).secretTargetRef.map((r) => r.name)).toContain(userName(s.name as PrincipalName));
        }
      }
      const hpa = of(objs, 'HorizontalPodAutoscaler').map((h) => h.metadata.name);
      expect(hpa).toEqual(SERVICES.filter((x) => x.consumerGroups.length === 0).map((s) => s.name));
    });

    it('takes the broker list for KEDA from provisio-common, so an overlay sets it once', () => {
      const dir = mkdtempSync(join(tmpdir(), 'provisio-overlay-'));
      try {
        writeFileSync(
          join(dir, 'kustomization.yaml'),
          `resources: [${relative(dir, join(k8s, 'base'))}]\ncomponents: [${relative(dir, join(k8s, 'components/autoscaling'))}]\nconfigMapGenerator:\n  - name: provisio-common\n    behavior: merge\n    literals:\n      - "KAFKA_BROKERS=b1.example:9093,b2.example:9093"\n`,
        );
        const servers = of(kustomize(dir), 'ScaledObject').flatMap((o) => (o['spec'] as { triggers: { metadata: Record<string, string> }[] }).triggers.map((t) => t.metadata['bootstrapServers']));
        expect(new Set(servers)).toEqual(new Set(['b1.example:9093,b2.example:9093']));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('declares every topic and one KafkaUser per service, whose Secret each Deployment mounts', () => {
      const topics = of(objs, 'KafkaTopic').map((t) => (t['spec'] as { topicName: string }).topicName);
      expect(topics.sort()).toEqual(resolveTopics().map((t) => t.name).sort());
      const users = of(objs, 'KafkaUser').map((u) => u.metadata.name);
      for (const d of of(objs, 'Deployment')) {
        const secret = podOf(d).spec.volumes!.find((v) => v.name === 'kafka-user')!.secret!.secretName;
        expect(users).toContain(secret);
        expect(secret).toBe(userName(d.metadata.name as PrincipalName));
      }
      expect(COMMON_CONFIG['KAFKA_SASL_MECHANISM']).toBe('scram-sha-512');
    });

    it('monitors every service and alerts only on metrics the services export, each alert linked to its runbook section', () => {
      expect(of(objs, 'ServiceMonitor')).toHaveLength(1);
      const sources = globSync(['libs/*/*/src/**/*.ts', 'services/*/src/**/*.ts'], { cwd: root }).map((f) => readFileSync(join(root, f), 'utf8')).join('\n');
      // Metric name → its label names, as declared in counter()/gauge()/histogram() calls.
      const exported = new Map([...sources.matchAll(/\(\s*'(provisio_[a-z0-9_]+)'\s*,\s*'[^']*'\s*(?:,\s*\[([^\]]*)\])?/g)].map((m) => [m[1]!, new Set([...(m[2] ?? '').matchAll(/'([a-z_]+)'/g)].map((l) => l[1]!))]));
      expect(exported.get('provisio_connector_quarantine_state')).toEqual(new Set(['target', 'kind']));
      const rules = (of(objs, 'PrometheusRule')[0]!['spec'] as { groups: { rules: { alert: string; expr: string; annotations: { runbook_url: string } }[] }[] }).groups.flatMap((g) => g.rules);
      const runbook = readFileSync(join(root, 'docs/runbook.md'), 'utf8');
      const anchors = new Set([...runbook.matchAll(/^#{1,4} (.+)$/gm)].map((m) => m[1]!.toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-')));
      for (const r of rules) {
        const used = [...r.expr.matchAll(/\b(provisio_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|count|sum)$/, ''));
        expect({ alert: r.alert, unknown: used.filter((m) => !exported.has(m)) }).toEqual({ alert: r.alert, unknown: [] });
        // A single-metric rule groups and filters only by labels the metric has (job, instance, le aside).
        const labels = [...r.expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim())).concat([...r.expr.matchAll(/([a-z_]+)=~?"/g)].map((m) => m[1]!));
        const generic = new Set(['le', 'job', 'instance']);
        for (const m of new Set(used).size === 1 ? used.slice(0, 1) : []) {
          const missing = labels.filter((l) => !generic.has(l) && !exported.get(m)!.has(l));
          expect({ alert: r.alert, metric: m, missing }).toEqual({ alert: r.alert, metric: m, missing: [] });
        }
        expect({ alert: r.alert, anchor: r.annotations.runbook_url.split('#')[1], documented: anchors.has(r.annotations.runbook_url.split('#')[1]!) }).toMatchObject({ documented: true });
        // The page is this repository's runbook (a site prefixes its docs host, docs/deployment.md#monitoring).
        expect({ alert: r.alert, page: r.annotations.runbook_url.split('#')[0] }).toEqual({ alert: r.alert, page: 'docs/runbook.md' });
      }
      expect(rules.map((r) => r.alert)).toEqual(expect.arrayContaining(['ProvisioConsumerLagHigh', 'ProvisioTargetQuarantined', 'ProvisioDeprovisionSlow', 'ProvisioDeadLetters']));
      expect(rules.find((r) => r.alert === 'ProvisioTargetQuarantined')!.expr).toContain('provisio_connector_quarantine_state');
    });

    it("gives audit's replay producer the replay principal's credentials, mounted into audit alone", () => {
      const audit = of(objs, 'Deployment').find((d) => d.metadata.name === 'audit')!;
      const pod = podOf(audit).spec;
      const env = containerEnv(objs, pod.containers[0]!);
      expect(env['KAFKA_REPLAY_SASL_USERNAME']).toBe(userName('audit-replay'));
      const mount = pod.containers[0]!.volumeMounts!.find((m) => m.mountPath === dirname(env['KAFKA_REPLAY_SASL_PASSWORD_FILE']!))!;
      expect(pod.volumes!.find((v) => v.name === mount.name)?.secret?.secretName).toBe(userName('audit-replay'));
      expect(of(objs, 'KafkaUser').map((u) => u.metadata.name)).toContain(userName('audit-replay'));
      for (const d of of(objs, 'Deployment').filter((x) => x.metadata.name !== 'audit')) {
        expect({ deployment: d.metadata.name, mounts: (podOf(d).spec.volumes ?? []).some((v) => v.secret?.secretName === userName('audit-replay')) }).toEqual({ deployment: d.metadata.name, mounts: false });
      }
    });

    it('alerts when a service has no instance up at all (scaled to zero, never scheduled): one absent() rule per service, on the job its Service is scraped as', () => {
      const rules = (of(objs, 'PrometheusRule')[0]!['spec'] as { groups: { rules: { alert: string; expr: string; for: string; labels: Record<string, string> }[] }[] }).groups.flatMap((g) => g.rules);
      const monitor = of(objs, 'ServiceMonitor')[0]!['spec'] as { selector: { matchLabels: Record<string, string> }; jobLabel?: string };
      // Without jobLabel, the Prometheus Operator names a target's job after its Service.
      expect(monitor.jobLabel).toBeUndefined();
      const absent = rules.filter((r) => r.alert === 'ProvisioServiceAbsent');
      for (const d of of(objs, 'Deployment')) {
        const labels = (d['spec'] as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
        const svc = of(objs, 'Service').find((x) => matches((x['spec'] as { selector: Record<string, string> }).selector, labels) && matches(monitor.selector.matchLabels, x.metadata.labels))!;
        const rule = absent.filter((r) => r.labels['service'] === d.metadata.name);
        expect({ deployment: d.metadata.name, rules: rule.map((r) => ({ expr: r.expr, for: r.for, severity: r.labels['severity'] })) }).toEqual({
          deployment: d.metadata.name,
          rules: [{ expr: `absent(up{job="${svc.metadata.name}"} == 1)`, for: '5m', severity: 'critical' }],
        });
      }
      expect(absent).toHaveLength(of(objs, 'Deployment').length);
      // ProvisioServiceDown alone compares existing `up` series, so it cannot see a service with no pods.
      expect(rules.find((r) => r.alert === 'ProvisioServiceDown')!.expr).not.toContain('absent(');
    });

    it('gives connector-ldap its directory ports and nobody else', () => {
      const egressPorts = (name: string) =>
        (of(objs, 'NetworkPolicy').find((p) => p.metadata.name === name)!['spec'] as { egress: { ports: { port: number }[] }[] }).egress.flatMap((e) => e.ports.map((p) => p.port));
      expect(egressPorts('connector-ldap')).toEqual(expect.arrayContaining([389, 636]));
      for (const other of ['hr-ingest', 'policy', 'connector-scim', 'connector-postgres', 'audit']) expect(egressPorts(other)).not.toContain(389);
    });
  });
});
