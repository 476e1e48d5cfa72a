import { Module, type DynamicModule } from '@nestjs/common';
import { Topics } from '@provisio/contracts';
import type { Logger } from '@provisio/observability';
import { PlatformModule } from '@provisio/platform';
import type { HrIngestConfig } from './config.js';
import { Init1764000000000 } from './migrations/1764000000000-init.js';
import { PersonRepository } from './workers/person.repository.js';
import { PERSONS } from './workers/tokens.js';
import { WorkersController } from './workers/workers.controller.js';
import { WorkersService } from './workers/workers.service.js';

@Module({})
export class AppModule {
  static forRoot(config: HrIngestConfig, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [PlatformModule.forService('hr-ingest', config, logger, { migrations: [Init1764000000000], topics: [{ topic: Topics.lifecycle }] })],
      controllers: [WorkersController],
      providers: [WorkersService, { provide: PERSONS, useValue: new PersonRepository(config.DATABASE_SCHEMA) }],
    };
  }
}
