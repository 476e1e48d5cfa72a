import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { KafkaJsBroker, withTopicPrefix, type MessageBroker } from '@provisio/messaging';
import type { Logger } from '@provisio/observability';
import { kafkaOptionsFromEnv } from '@provisio/platform';
import type { AuditConfig } from '../config.js';

export const REPLAY_PRODUCER = Symbol('REPLAY_PRODUCER');

/** Why replays cannot be sent; the replay endpoint answers 503 with it. */
export class ReplayUnavailable {
  constructor(readonly reason: string) {}
}

/**
 * How audit's dead-letter replays reach Kafka:
 * - `shared`: no SASL (a plain-text or TLS-only development cluster): the service's own client;
 * - `own`: SASL with KAFKA_REPLAY_SASL_USERNAME/PASSWORD: a producer of its own as the replay
 *   principal (provisio-audit-replay), the only audit principal allowed to write pipeline topics;
 * - `unavailable`: SASL without replay credentials: replays are refused, nothing is tried with
 *   the ingest principal (which the cluster's ACLs keep read-only on the pipeline).
 */
export type ReplayConnection = { kind: 'shared' } | { kind: 'own'; username: string; password: string } | { kind: 'unavailable'; reason: string };

export function replayConnection(c: Pick<AuditConfig, 'KAFKA_SASL_MECHANISM' | 'KAFKA_REPLAY_SASL_USERNAME' | 'KAFKA_REPLAY_SASL_PASSWORD'>): ReplayConnection {
  if (!c.KAFKA_SASL_MECHANISM) return { kind: 'shared' };
  if (c.KAFKA_REPLAY_SASL_USERNAME && c.KAFKA_REPLAY_SASL_PASSWORD) return { kind: 'own', username: c.KAFKA_REPLAY_SASL_USERNAME, password: c.KAFKA_REPLAY_SASL_PASSWORD };
  return {
    kind: 'unavailable',
    reason:
      'dead-letter replay is not configured: set KAFKA_REPLAY_SASL_USERNAME and KAFKA_REPLAY_SASL_PASSWORD (or KAFKA_REPLAY_SASL_PASSWORD_FILE) to the replay principal (provisio-audit-replay); audit\'s own principal may not write pipeline topics',
  };
}

/** The replay producer, closed with the application when it is a connection of its own. */
@Injectable()
export class ReplayProducer implements OnApplicationShutdown {
  readonly target: MessageBroker | ReplayUnavailable;
  private readonly owned: MessageBroker | undefined;

  constructor(config: AuditConfig, shared: MessageBroker, logger: Logger) {
    const c = replayConnection(config);
    if (c.kind === 'shared') this.target = shared;
    else if (c.kind === 'unavailable') {
      this.target = new ReplayUnavailable(c.reason);
      logger.warn({ missing: ['KAFKA_REPLAY_SASL_USERNAME', 'KAFKA_REPLAY_SASL_PASSWORD'] }, 'dead-letter replay disabled: no replay principal configured');
    } else {
      const base = kafkaOptionsFromEnv('audit', config);
      this.owned = withTopicPrefix(
        new KafkaJsBroker({
          ...base,
          clientId: `${base.clientId}-replay`,
          sasl: { mechanism: config.KAFKA_SASL_MECHANISM!, username: c.username, password: c.password },
          logger: logger.child({ component: 'kafka-replay' }),
        }),
        base.topicPrefix,
      );
      this.target = this.owned;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.owned?.close();
  }
}
