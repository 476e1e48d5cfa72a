import type { DynamicModule, INestApplication } from '@nestjs/common';
import { redactConfig, type Env } from '@provisio/config';
import { createLogger, type Logger } from '@provisio/observability';
import { exitOnStartupFailure, runService, type RunningService } from './run-service.js';

export interface ServiceDefinition<C> {
  service: string;
  loadConfig: (env: Env) => C;
  module: (config: C, logger: Logger) => DynamicModule;
  openapi?: { title: string; description: string };
  /** Adjusts the Nest app before init (body parsers, limits). */
  configure?: (app: INestApplication, config: C) => void;
}

interface BaseConfig {
  LOG_LEVEL: string;
  HTTP_PORT: number;
  HTTP_HOST: string;
}

/** A service's `bootstrap()` (used by main.ts and by tests) and `main()` (exits on failure). */
export function defineService<C extends BaseConfig>(def: ServiceDefinition<C>): {
  bootstrap: (env?: Env) => Promise<RunningService>;
  main: () => Promise<void>;
} {
  async function bootstrap(env: Env = process.env): Promise<RunningService> {
    const config = def.loadConfig(env);
    const logger = createLogger({ service: def.service, level: config.LOG_LEVEL });
    logger.debug({ config: redactConfig(config as unknown as Record<string, unknown>) }, 'configuration');
    return runService({
      service: def.service,
      module: def.module(config, logger),
      logger,
      http: { port: config.HTTP_PORT, host: config.HTTP_HOST },
      ...(def.openapi ? { openapi: { ...def.openapi, bearerAuth: true } } : {}),
      ...(def.configure ? { configure: (app: INestApplication) => def.configure!(app, config) } : {}),
    });
  }

  async function main(): Promise<void> {
    try {
      await bootstrap();
    } catch (e) {
      await exitOnStartupFailure(createLogger({ service: def.service }), e);
    }
  }

  return { bootstrap, main };
}
