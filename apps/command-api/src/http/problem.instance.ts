import { echoedPath } from '@causeway/cqrs-core/nest';
import { type ApiRequest } from './http.types';

/**
 * A problem's `instance`: the request's path, never its query (which may hold a token), bounded
 * as every Causeway app's problem documents are (echoedPath).
 */
export function problemInstance(request: ApiRequest): string {
  return echoedPath(request.originalUrl ?? '') ?? '';
}
