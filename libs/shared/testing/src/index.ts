export { ALL_TEST_SCOPES, auditTestKeys, configTestEnv, createTestDatabase, createTestRole, kafkaBrokers, mintToken, readTopic, serviceTestEnv, testKafka, uniqueId, uniqueTopicPrefix, waitFor, type TestDatabase, type TestRole } from './helpers.js';
export { TestEnv, requireEnv } from '@provisio/devstack';
export { ServiceProcesses, freePort, type RunningProcess } from './service-processes.js';
export { CommandSender, OUTAGE_QUARANTINE_SETTINGS, TEST_OUTAGE_MS, TopicCollector, provisioningCommand, sendThroughOutage, startConnectorService, targetReadiness, type Collected, type ConnectorUnderTest, type OutageObservations } from './connector-helpers.js';
export { lifecycleEvent } from './lifecycle-event.js';
export { ScimStore, ScimTestServer, type ScimFaults, type ScimRequestHook, type ScimRequestRecord } from './scim-server.js';
export { TcpProxy, type TcpProxyDownMode } from './tcp-proxy.js';
export { silentLogger } from './silent-logger.js';
