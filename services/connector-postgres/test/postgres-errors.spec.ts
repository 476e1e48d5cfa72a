import { describe, expect, it } from '@jest/globals';
import { ConnectorErrorCode } from '@provisio/connector-kit';
import { fromPostgresError } from '../src/target/postgres-errors.js';

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

/** How PostgreSQL's errors become connector errors: what is retried, as what. */
describe('fromPostgresError', () => {
  it('a statement cancelled by its statement_timeout, or a query the client stopped waiting for, is a retried timeout', () => {
    const cancelled = fromPostgresError(pgError('57014', 'canceling statement due to statement timeout'), 'create role');
    expect(cancelled).toMatchObject({ code: ConnectorErrorCode.Timeout, retriable: true });
    expect(fromPostgresError(new Error('Query read timeout'), 'create role')).toMatchObject({ code: ConnectorErrorCode.Timeout, retriable: true });
  });

  it('a lock wait past lock_timeout and a lost connection are transient; a taken name is ALREADY_EXISTS; a missing privilege is unauthorized', () => {
    expect(fromPostgresError(pgError('55P03', 'canceling statement due to lock timeout'), 'create role')).toMatchObject({ code: ConnectorErrorCode.Unavailable, retriable: true });
    expect(fromPostgresError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }), 'create role')).toMatchObject({ code: ConnectorErrorCode.Unavailable, retriable: true });
    expect(fromPostgresError(pgError('42710', 'role "ada" already exists'), 'create role')).toMatchObject({ code: ConnectorErrorCode.AlreadyExists });
    expect(fromPostgresError(pgError('42501', 'permission denied to create role'), 'create role')).toMatchObject({ code: ConnectorErrorCode.Unauthorized });
  });

  it('names no identifier PostgreSQL quotes (a role is a person\'s account name)', () => {
    expect(fromPostgresError(pgError('42710', 'role "ada.lovelace" already exists'), 'create role').message).toBe('create role: role "…" already exists (SQLSTATE 42710)');
  });
});
