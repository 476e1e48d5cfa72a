import { Module, type DynamicModule } from '@nestjs/common';
import { Topics } from '@provisio/contracts';
import type { Logger } from '@provisio/observability';
import { PlatformModule } from '@provisio/platform';
import type { PolicyConfig } from './config.js';
import { LifecycleConsumer } from './engine/lifecycle.consumer.js';
import { TargetAccountRepository } from './engine/target-account.repository.js';
import { TARGET_ACCOUNTS } from './engine/tokens.js';
import { Init1764000000000 } from './migrations/1764000000000-init.js';

const TARGET_KINDS = ['postgres', 'ldap', 'scim'];

@Module({})
export class AppModule {
  static forRoot(config: PolicyConfig, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forService('policy', config, logger, {
          migrations: [Init1764000000000],
          topics: [{ topic: Topics.lifecycle }, { topic: Topics.results }, ...TARGET_KINDS.map((k) => ({ topic: Topics.commands(k) }))],
        }),
      ],
      controllers: [LifecycleConsumer],
      providers: [{ provide: TARGET_ACCOUNTS, useValue: new TargetAccountRepository(config.DATABASE_SCHEMA) }],
    };
  }
}
