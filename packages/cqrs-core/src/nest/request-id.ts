import { randomUUID } from 'node:crypto';

/** The header a request's id comes in and goes back in (every HTTP answer carries it). */
export const REQUEST_ID_HEADER = 'X-Request-Id';

/** The longest incoming X-Request-Id taken as is. */
export const REQUEST_ID_MAX = 128;

// Letters, digits and `-._:@/+=`: a UUID, a ULID, a W3C trace id, `probe-123`, a proxy's
// `host/1234-0`; never spaces, quotes or control characters (the id goes into every log line).
const WELL_FORMED = new RegExp(`^[A-Za-z0-9._:@/+=-]{1,${REQUEST_ID_MAX}}$`);

/**
 * The id of a request: its X-Request-Id when well formed (1..128 of the characters above, one
 * header), else a fresh UUID. A load balancer's or a client's id thereby reaches our logs, and
 * the caller can quote the id it got back.
 */
export function requestIdOf(headers: Record<string, string | string[] | undefined>): string {
  const value = headers['x-request-id'];
  return typeof value === 'string' && WELL_FORMED.test(value) ? value : randomUUID();
}

/**
 * pino-http's `genReqId`: the request's id (`requestIdOf`), echoed in the answer's
 * X-Request-Id; logged as `req.id`.
 */
export function requestIdFor(
  request: { headers: Record<string, string | string[] | undefined> },
  response: { setHeader(name: string, value: string): unknown },
): string {
  const id = requestIdOf(request.headers);
  response.setHeader(REQUEST_ID_HEADER, id);
  return id;
}
