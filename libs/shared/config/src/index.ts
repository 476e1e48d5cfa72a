export { ConfigError } from './config-error.js';
export { loadConfig, redactConfig, resolveFileVariables, type Env } from './load-config.js';
export { bool, csv, databaseEnv, httpEnv, kafkaEnv, logEnv, port, positiveInt, refineKafka } from './schemas.js';
