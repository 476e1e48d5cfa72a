import { Global, Module, type DynamicModule, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import type { Logger } from 'pino';
import { HealthRegistry } from '../health.js';
import { AppLogger } from './app-logger.js';
import { HttpTracingMiddleware } from './http-tracing.middleware.js';
import { ObservabilityController } from './observability.controller.js';

export const LOGGER = Symbol('LOGGER');

@Global()
@Module({})
export class ObservabilityModule implements NestModule {
  static forRoot(logger: Logger): DynamicModule {
    return {
      module: ObservabilityModule,
      controllers: [ObservabilityController],
      providers: [
        { provide: LOGGER, useValue: logger },
        { provide: AppLogger, useValue: new AppLogger(logger) },
        { provide: HealthRegistry, useValue: new HealthRegistry() },
      ],
      exports: [LOGGER, AppLogger, HealthRegistry],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpTracingMiddleware).forRoutes('*path');
  }
}
