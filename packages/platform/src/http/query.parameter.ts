import { invalidRequest } from './invalid-request.problem';

/**
 * A query parameter that may appear at most once, as Express 5 and node:querystring parse it:
 * its value, undefined when absent, and a 400 problem document naming it when it is repeated
 * (`?a=1&a=2` parses to an array) or not a plain value (an extended parser's `?a[b]=1`) —
 * never silently the first, the last or none of its values.
 */
export function queryParameter(
  query: Record<string, unknown> | undefined,
  name: string,
): string | undefined {
  const value = query?.[name];
  if (value === undefined || typeof value === 'string') return value;
  const message = Array.isArray(value) ? 'must appear once' : 'must be a single value';
  throw invalidRequest(name, message);
}
