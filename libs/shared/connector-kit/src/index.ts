export { CommandProcessor } from './command-processor.js';
export { connectorTablesSql } from './connector-tables.js';
export { NotImplementedConverger, type ConvergeOutcome, type Converger } from './converger.js';
export { COMMAND_PROCESSOR, CONVERGER, ConnectorModule, commandsConsumerFor, type ConnectorModuleOptions } from './connector.module.js';
