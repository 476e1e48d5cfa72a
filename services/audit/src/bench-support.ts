// What bench/audit.ts needs to measure the store without Kafka (package export "./bench").
export { AUDIT_MIGRATIONS } from './app.module.js';
export { ChainService } from './chain/chain.service.js';
export { PersonKeyStore } from './store/person-keys.repository.js';
export { RecordRepository } from './store/record.repository.js';
