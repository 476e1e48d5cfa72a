export { Database, migrationSchema, quoteIdent, type DatabaseOptions, type SqlClient, type TransactionOptions, type Tx } from './database.js';
export { isTransientDatabaseError } from './database-errors.js';
