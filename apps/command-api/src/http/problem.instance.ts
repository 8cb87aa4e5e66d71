import { pathOf } from './body.endpoints';
import { type ApiRequest } from './http.types';

/**
 * At most this much of the path goes back as a problem's `instance`: the path is client input
 * (an id of 5 000 characters, say), and an error document echoes no more than a bounded prefix.
 */
export const MAX_INSTANCE_CHARS = 256;

/** A problem's `instance`: the request's path (never its query, which may hold a token), clipped. */
export function problemInstance(request: ApiRequest): string {
  return pathOf(request.originalUrl ?? '').slice(0, MAX_INSTANCE_CHARS);
}
