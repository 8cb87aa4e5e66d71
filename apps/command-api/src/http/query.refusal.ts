import { queryRefusal } from '@causeway/platform';
import { type ApiRequest } from './http.types';

/**
 * command-api's endpoints take no query parameter: one given is refused, 400 `invalid-request`
 * naming each (names only: a value may be a token; the first 10, each cut at 64 characters:
 * queryRefusal, as the other apps refuse a parameter they do not know, order-processor's
 * `?limt=`). Ignored, a typo or a misplaced `?trainerId=` was acted on as if it were not there.
 * A bare `?` has none. Each endpoint calls it once it has admitted the caller (authenticated and
 * charged, CallerGate): a request without a valid token is a 401 (and a flood of them a 429)
 * whatever its query, as a client without a token must learn it needs one.
 */
export function refuseQuery(request: ApiRequest): void {
  const at = request.originalUrl.indexOf('?');
  if (at < 0) return;
  const names = [...new Set(new URLSearchParams(request.originalUrl.slice(at + 1)).keys())];
  if (names.length > 0) throw queryRefusal(names, []);
}
