import { Catch, type RpcExceptionFilter } from '@nestjs/common';
import { type Observable, throwError } from 'rxjs';

/**
 * Hands a @EventPattern / @MessagePattern handler's error to CausewayTransportServer as it was
 * thrown. Nest's default RPC exception filter replaces any error but an RpcException with
 * `{ status: 'error', message: 'Internal server error' }`: the transport's middleware could then
 * not tell a PermanentError from a transient one (retry, dead letters), and a dead letter's
 * reason and stack would say nothing. Put it on the controllers (or methods) with patterns:
 * `@UseFilters(KeepRpcErrors)`. (Not as a microservice's global filter: `connectMicroservice`
 * binds its handlers at once, before `useGlobalFilters` on it could apply.)
 */
@Catch()
export class KeepRpcErrors implements RpcExceptionFilter {
  catch(exception: unknown): Observable<never> {
    return throwError(() => exception);
  }
}
