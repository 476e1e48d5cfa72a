import { Catch, type ArgumentsHost, type RpcExceptionFilter } from '@nestjs/common';
import { throwError, type Observable } from 'rxjs';

/**
 * Hands handler errors to the transport unchanged. Nest's default RPC filter replaces them with a
 * generic `{ status: 'error', message: 'Internal server error' }`, which would lose the
 * `retriable` flag and database error codes that decide retry versus dead letter.
 * `@KafkaSubscribe` applies it to every handler.
 */
@Catch()
export class PassThroughRpcFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    return throwError(() => exception);
  }
}
