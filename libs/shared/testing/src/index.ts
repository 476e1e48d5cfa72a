export { ALL_TEST_SCOPES, createTestDatabase, kafkaBrokers, mintToken, readTopic, serviceTestEnv, testKafka, uniqueId, uniqueTopicPrefix, waitFor, type TestDatabase } from './helpers.js';
export { TestEnv, requireEnv } from '@provisio/devstack';
export { ServiceProcesses, freePort, type RunningProcess } from './service-processes.js';
