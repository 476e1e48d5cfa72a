export enum ContractErrorCode {
  BadHeader = 'CONTRACT_BAD_HEADER',
  UnknownSchema = 'CONTRACT_UNKNOWN_SCHEMA',
  SchemaMismatch = 'CONTRACT_SCHEMA_MISMATCH',
  InvalidValue = 'CONTRACT_INVALID_VALUE',
  Incompatible = 'CONTRACT_INCOMPATIBLE_SCHEMA',
}

/** A record that does not match its contract. Never retriable: the same bytes fail again. */
export class ContractError extends Error {
  readonly retriable = false;
  constructor(
    readonly code: ContractErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ContractError';
  }
}
