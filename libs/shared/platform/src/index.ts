export { MESSAGE_BROKER, PLATFORM_OPTIONS, PlatformModule, classifyPlatformError } from './platform.module.js';
export { kafkaOptionsFromEnv, type PlatformOptions } from './platform-options.js';
export { exitOnStartupFailure, runService, type RunServiceOptions, type RunningService } from './run-service.js';
export { defineService, type ServiceDefinition } from './define-service.js';
export { serviceConfigSchema, type ServiceConfig } from './service-config.js';
