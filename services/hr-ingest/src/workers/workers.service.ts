import { Inject, Injectable } from '@nestjs/common';
import { EventTypes, Topics, type LifecycleEvent } from '@provisio/contracts';
import { decide, type WorkerRecord } from '@provisio/hr-ingest-domain';
import { OutboxWriter, uuidv7 } from '@provisio/messaging';
import { Database } from '@provisio/persistence';
import { randomUUID } from 'node:crypto';
import { PERSONS } from './tokens.js';
import type { PersonRepository } from './person.repository.js';

export interface IngestOutcome {
  personId: string;
  created: boolean;
  events: { eventId: string; kind: string }[];
}

@Injectable()
export class WorkersService {
  constructor(
    private readonly db: Database,
    private readonly outbox: OutboxWriter,
    @Inject(PERSONS) private readonly persons: PersonRepository,
  ) {}

  /** Applies one worker delta: person state and lifecycle events commit together. */
  async ingest(record: WorkerRecord, channel: LifecycleEvent['source']['channel']): Promise<IngestOutcome> {
    return this.db.transaction(async (tx) => {
      const previous = await this.persons.lockBySourceWorker(tx.sql, record.source, record.workerId);
      const decision = decide(previous, record);
      const personId = previous?.personId ?? randomUUID();
      const next = { personId, source: record.source, workerId: record.workerId, attributes: decision.attributes, version: (previous?.version ?? 0) + 1 };
      if (!previous) {
        if (!(await this.persons.insert(tx.sql, next))) {
          // A concurrent request created the same worker first: run again, as an update.
          throw Object.assign(new Error('concurrent first sight of a worker'), { code: '40001' });
        }
      } else if (decision.events.length > 0) {
        await this.persons.update(tx.sql, next);
      }
      const now = Date.now();
      const events = decision.events.map((d) => ({ ...d, eventId: uuidv7(now) }));
      await this.outbox.enqueue(
        tx.sql,
        events.map((d) => ({
          id: d.eventId,
          topic: Topics.lifecycle,
          key: personId,
          aggregateType: 'person',
          type: EventTypes.lifecycle(d.kind),
          schema: 'LifecycleEvent' as const,
          value: {
            eventId: d.eventId,
            kind: d.kind,
            stage: 'EFFECTIVE',
            personId,
            effectiveAt: now,
            recordedAt: now,
            source: {
              system: record.source,
              workerId: record.workerId,
              sequence: record.sequence ?? null,
              sourceTimestamp: record.sourceTimestamp ?? null,
              batchId: null,
              channel,
            },
            attributes: d.attributes,
            changedAttributes: d.changedAttributes,
          },
        })),
      );
      return { personId, created: !previous, events: events.map((e) => ({ eventId: e.eventId, kind: e.kind })) };
    });
  }
}
