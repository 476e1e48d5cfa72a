import { EventTypes, Topics, avroCodec, type ProvisioningCommand, type ProvisioningResult, type SchemaName, type SchemaTypeMap } from '@provisio/contracts';
import type { Consumer, KafkaMessage, Producer } from 'kafkajs';
import { mintToken, serviceTestEnv, testKafka, uniqueId, uniqueTopicPrefix, waitFor } from './helpers.js';

let sequence = 0;

/** A ProvisioningCommand with sensible defaults for connector tests. */
export function provisioningCommand(over: Partial<ProvisioningCommand> & Pick<ProvisioningCommand, 'personId' | 'target' | 'targetKind' | 'accountName'>): ProvisioningCommand {
  return {
    commandId: `cmd-${Date.now().toString(36)}-${++sequence}`,
    version: 1,
    state: 'ACTIVE',
    attributes: {},
    groups: [],
    cause: { lifecycleEventId: null, lifecycleKind: null, policyVersion: 0, reason: 'test', decisionId: null },
    hrEffectiveAt: null,
    issuedAt: Date.now(),
    ...over,
  };
}

/** Produces commands the way policy's outbox relay does (key = personId, CloudEvents headers, Avro). */
export class CommandSender {
  private producer: Producer | undefined;

  constructor(private readonly topicPrefix: string) {}

  async send(kind: string, commands: ProvisioningCommand[]): Promise<void> {
    if (!this.producer) {
      this.producer = testKafka().producer({ idempotent: true, maxInFlightRequests: 1 });
      await this.producer.connect();
    }
    const codec = avroCodec();
    for (let i = 0; i < commands.length; i += 1000) {
      await this.producer.send({
        topic: `${this.topicPrefix}${Topics.commands(kind)}`,
        acks: -1,
        messages: commands.slice(i, i + 1000).map((c) => ({
          key: c.personId,
          value: codec.encode('ProvisioningCommand', c),
          headers: { ce_id: c.commandId, ce_type: EventTypes.command, ce_source: '/test', ce_specversion: '1.0', ce_subject: c.personId, 'content-type': 'application/avro' },
        })),
      });
    }
  }

  async close(): Promise<void> {
    await this.producer?.disconnect();
  }
}

export interface Collected<T> {
  key: string | null;
  value: T;
  headers: Record<string, string>;
  message: KafkaMessage;
}

/** Reads a topic from the beginning in the background; `waitFor` helpers look at what arrived. */
export class TopicCollector<T = unknown> {
  readonly records: Collected<T>[] = [];
  private consumer: Consumer | undefined;

  constructor(
    readonly topic: string,
    private readonly schema?: SchemaName | 'any',
  ) {}

  static async start<N extends SchemaName>(topic: string, schema: N): Promise<TopicCollector<SchemaTypeMap[N]>>;
  /** `any`: decode each record with the schema its fingerprint names (topics carrying several record types). */
  static async start<T = unknown>(topic: string, schema: 'any'): Promise<TopicCollector<T>>;
  static async start(topic: string): Promise<TopicCollector<Buffer | null>>;
  static async start(topic: string, schema?: SchemaName | 'any'): Promise<TopicCollector<unknown>> {
    const c = new TopicCollector<unknown>(topic, schema);
    await c.run();
    return c;
  }

  private async run(): Promise<void> {
    const admin = testKafka().admin();
    await admin.connect();
    try {
      const existing = await admin.listTopics();
      if (!existing.includes(this.topic)) await admin.createTopics({ topics: [{ topic: this.topic, numPartitions: 3 }], waitForLeaders: true }).catch(() => undefined);
    } finally {
      await admin.disconnect();
    }
    this.consumer = testKafka().consumer({ groupId: uniqueId('collector-'), maxWaitTimeInMs: 100 });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    const codec = avroCodec();
    await this.consumer.run({
      eachMessage: async ({ message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = String(Array.isArray(v) ? v[0] : v);
        const bytes = message.value ?? Buffer.alloc(0);
        const value = this.schema === 'any' ? codec.decodeAny(bytes).value : this.schema ? codec.decode(this.schema, bytes) : message.value;
        this.records.push({ key: message.key?.toString() ?? null, value, headers, message } as Collected<T>);
      },
    });
  }

  values(): T[] {
    return this.records.map((r) => r.value);
  }

  async waitFor<R>(check: (values: T[]) => R | undefined | false | null, o: { timeoutMs?: number; what?: string } = {}): Promise<R> {
    return waitFor(async () => check(this.values()), { timeoutMs: o.timeoutMs ?? 30_000, what: o.what ?? `records on ${this.topic}` });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}

/** A connector's readiness answer and one target's check in it (HTTP status, overall report, the target's status). */
export async function targetReadiness(serviceUrl: string, target: string): Promise<{ status: number; report: string; target: string }> {
  const r = await fetch(`${serviceUrl}/health/ready`);
  const body = (await r.json()) as { status: string; checks: Record<string, { status: string } | undefined> };
  return { status: r.status, report: body.status, target: body.checks[`target:${target}`]?.status ?? 'missing' };
}

/** A connector service under test: the service, a sender of its commands, collectors of its results and dead letters. */
export interface ConnectorUnderTest<S extends { close(): Promise<void> }> {
  service: S;
  sender: CommandSender;
  results: TopicCollector<ProvisioningResult>;
  dlt: TopicCollector<Buffer | null>;
  /** Closes the service, then the sender and the collectors. */
  close(): Promise<void>;
}

/**
 * Boots a connector service of `kind` through its bootstrap() on the test stack, on topics of its
 * own, with `targets` as CONNECTOR_TARGETS (and `env` besides, e.g. the secrets they name).
 */
export async function startConnectorService<S extends { close(): Promise<void> }>(
  kind: string,
  bootstrap: (env: Record<string, string>) => Promise<S>,
  o: { databaseUrl: string; targets: unknown[]; env?: Record<string, string> },
): Promise<ConnectorUnderTest<S>> {
  const prefix = uniqueTopicPrefix();
  const service = await bootstrap(serviceTestEnv({ databaseUrl: o.databaseUrl, topicPrefix: prefix, extra: { CONNECTOR_TARGETS: JSON.stringify(o.targets), ...o.env } }));
  const sender = new CommandSender(prefix);
  try {
    const [results, dlt] = await Promise.all([TopicCollector.start(`${prefix}${Topics.results}`, 'ProvisioningResult'), TopicCollector.start(`${prefix}${Topics.commands(kind)}.dlt`)]);
    return {
      service,
      sender,
      results,
      dlt,
      close: async () => {
        await service.close();
        await Promise.all([sender.close(), results.stop(), dlt.stop()]);
      },
    };
  } catch (e) {
    await service.close();
    await sender.close();
    throw e;
  }
}

/** An outage of a target in the fault tests: 2 minutes; PROVISIO_TEST_OUTAGE_MS shortens it for quick local runs. */
export const TEST_OUTAGE_MS = Number(process.env['PROVISIO_TEST_OUTAGE_MS'] ?? 120_000);

/**
 * A target's own quarantine settings (callTimeoutMs, retry, breaker.openSeconds, maxOpenSeconds),
 * shortened so that the breaker opens, probes and reopens several times within TEST_OUTAGE_MS;
 * the behaviour is the same with the defaults, only slower.
 */
export const OUTAGE_QUARANTINE_SETTINGS = {
  callTimeoutMs: 2000,
  retry: { initialMs: 200, maxMs: 5000 },
  breaker: { consecutiveFailures: 3, openSeconds: 1, maxOpenSeconds: 8 },
};

/** What a connector service showed while its target was down (see sendThroughOutage). */
export interface OutageObservations {
  /** The quarantine states its targets API reported for the target. */
  states: Set<string>;
  /** Its readiness, from the fourth command on (the quarantine has had time to open). */
  readiness: { status: number; report: string; target: string }[];
  /** The most commands its targets API reported parked at once. */
  maxParked: number;
}

/**
 * While `target` is down: sends `commands` to the service one at a time, spread over `outageMs`,
 * polling every 250 ms the target's quarantine state and parked commands (targets API) and, from
 * the fourth command on, the service's readiness; returns when `outageMs` has passed.
 */
export async function sendThroughOutage(
  svc: { service: { url: string }; sender: CommandSender },
  kind: string,
  target: string,
  commands: ProvisioningCommand[],
  outageMs: number,
): Promise<OutageObservations> {
  const token = await mintToken(['connector:read']);
  const outageEnds = Date.now() + outageMs;
  const seen: OutageObservations = { states: new Set(), readiness: [], maxParked: 0 };
  for (const [i, c] of commands.entries()) {
    await svc.sender.send(kind, [c]);
    const until = Date.now() + outageMs / commands.length;
    while (Date.now() < until) {
      const s = (await (await fetch(`${svc.service.url}/v1/targets/${target}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { quarantine: { state: string }; parked: { count: number } };
      seen.states.add(s.quarantine.state);
      seen.maxParked = Math.max(seen.maxParked, s.parked.count);
      if (i > 2) {
        seen.readiness.push(await targetReadiness(svc.service.url, target));
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  while (Date.now() < outageEnds) await new Promise((r) => setTimeout(r, 100));
  return seen;
}
