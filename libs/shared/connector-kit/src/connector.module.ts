import { Controller, Inject, Module, type DynamicModule, type InjectionToken, type Provider, type Type } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { Topics, type ProvisioningCommand } from '@provisio/contracts';
import { KafkaSubscribe, OutboxWriter, type ConsumedMessage } from '@provisio/messaging';
import type { Logger } from '@provisio/observability';
import { Database } from '@provisio/persistence';
import { PlatformModule, type ServiceConfig } from '@provisio/platform';
import type { MigrationInterface } from 'typeorm';
import { CommandProcessor } from './command-processor.js';
import type { Converger } from './converger.js';

export const COMMAND_PROCESSOR = Symbol('COMMAND_PROCESSOR');
export const CONVERGER = Symbol('CONVERGER');

/** The @KafkaSubscribe controller that feeds a target kind's commands to the kit. */
export function commandsConsumerFor(kind: string): Type {
  @Controller()
  class CommandsConsumer {
    constructor(@Inject(COMMAND_PROCESSOR) private readonly processor: CommandProcessor) {}

    @KafkaSubscribe({ group: `connector-${kind}`, topics: [Topics.commands(kind)], schema: 'ProvisioningCommand' })
    async onCommand(@Payload() message: ConsumedMessage<ProvisioningCommand>): Promise<void> {
      await this.processor.process(message.value);
    }
  }
  Object.defineProperty(CommandsConsumer, 'name', { value: `${kind[0]!.toUpperCase()}${kind.slice(1)}CommandsConsumer` });
  return CommandsConsumer;
}

export interface ConnectorModuleOptions {
  /** Target kind: ldap, scim, postgres, ... (topic provisioning.commands.<kind>). */
  kind: string;
  config: ServiceConfig;
  logger: Logger;
  migrations: (new () => MigrationInterface)[];
  converger: { inject?: InjectionToken[]; useFactory: (...deps: never[]) => Converger | Promise<Converger> };
  providers?: Provider[];
}

@Module({})
export class ConnectorModule {
  /** A connector service: platform, the kind's command consumer and the kit's processor. */
  static forConnector(o: ConnectorModuleOptions): DynamicModule {
    return {
      module: ConnectorModule,
      imports: [
        PlatformModule.forService(`connector-${o.kind}`, o.config, o.logger, {
          migrations: o.migrations,
          topics: [{ topic: Topics.commands(o.kind) }, { topic: Topics.results }],
        }),
      ],
      controllers: [commandsConsumerFor(o.kind)],
      providers: [
        ...(o.providers ?? []),
        { provide: CONVERGER, inject: o.converger.inject ?? [], useFactory: o.converger.useFactory as (...deps: unknown[]) => Converger },
        {
          provide: COMMAND_PROCESSOR,
          inject: [Database, OutboxWriter, CONVERGER],
          useFactory: (db: Database, outbox: OutboxWriter, converger: Converger) => new CommandProcessor(db, outbox, converger, o.config.DATABASE_SCHEMA),
        },
      ],
    };
  }
}
