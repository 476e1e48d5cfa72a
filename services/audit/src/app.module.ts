import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from '@provisio/observability';
import { Database } from '@provisio/persistence';
import { PlatformModule } from '@provisio/platform';
import type { AuditConfig } from './config.js';
import { Init1764000000000 } from './migrations/1764000000000-init.js';
import { AuditConsumer } from './store/audit.consumer.js';
import { AUDIT_STORE, AuditStore } from './store/audit.store.js';
import { TimelineController } from './store/timeline.controller.js';

@Module({})
export class AppModule {
  static forRoot(config: AuditConfig, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [PlatformModule.forService('audit', config, logger, { migrations: [Init1764000000000], topics: [] })],
      controllers: [AuditConsumer, TimelineController],
      providers: [{ provide: AUDIT_STORE, inject: [Database], useFactory: (db: Database) => new AuditStore(db, config.DATABASE_SCHEMA) }],
    };
  }
}
