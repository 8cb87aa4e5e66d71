import { pathOf } from '@causeway/cqrs-core/nest';
import { bearerToken } from '@causeway/platform';

/**
 * The endpoints whose bodies command-api reads itself (`commandApiBodyReader`), as the metric
 * label of each. Express routes paths case-insensitively and with or without a trailing slash;
 * so does `bodyEndpointOf`, so that the reader runs for exactly the requests a controller will
 * serve. The label is the route template, never the path as the client spelled it: labels come
 * from this fixed set, so a client cannot create metric series (unbounded memory in /metrics).
 */
const BODY_ENDPOINTS: readonly {
  method: string;
  pattern: RegExp;
  label: string;
  /** Served only with DEV_TOKENS=true. */
  devTokens?: true;
  /** Served only with orders configured (CommandApiOptions.orders). */
  orders?: true;
  /** Needs no bearer token (every other one does: its controller checks it first). */
  public?: true;
}[] = [
  {
    method: 'POST',
    pattern: /^\/api\/trainers\/[^/]+\/move\/?$/i,
    label: 'POST /api/trainers/{id}/move',
  },
  {
    method: 'PUT',
    pattern: /^\/api\/trainers\/[^/]+\/groups\/[^/]+\/?$/i,
    label: 'PUT /api/trainers/{id}/groups/{groupId}',
  },
  {
    method: 'DELETE',
    pattern: /^\/api\/trainers\/[^/]+\/groups\/[^/]+\/?$/i,
    label: 'DELETE /api/trainers/{id}/groups/{groupId}',
  },
  { method: 'POST', pattern: /^\/rpc\/?$/i, label: 'POST /rpc' },
  {
    method: 'POST',
    pattern: /^\/api\/v2\/progress\/orders\/?$/i,
    label: 'POST /api/v2/progress/orders',
    orders: true,
  },
  { method: 'POST', pattern: /^\/trainer\.move\/?$/i, label: 'POST /trainer.Move' },
  {
    method: 'POST',
    pattern: /^\/api\/dev\/tokens\/?$/i,
    label: 'POST /api/dev/tokens',
    devTokens: true,
    public: true,
  },
];

interface UnreadRequest {
  method?: string;
  /** The request target as sent (an IncomingMessage's `url`, Express's `originalUrl`). */
  url?: string;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * Whether a request is one to an endpoint that needs a bearer token (every one of
 * BODY_ENDPOINTS but POST /api/dev/tokens) without one: no `Authorization: Bearer <token>`
 * header, as BearerAuthenticator reads it. Its body is not read, neither by command-api's
 * reader nor by Nest's parsers (UNREAD_BODIES): the controller answers 401 (or 429 once the
 * address spent its rate) before it looks at the body, so the answer is the one without a body,
 * whatever was sent. Read first, a client without a token could have command-api read up to
 * MAX_BODY_BYTES, and was answered 415 or 413 about a body the endpoint would never take from it.
 * A token that is there but does not verify is the controller's to refuse: it verifies it first.
 */
export function unreadWithoutToken(
  devTokens = false,
  orders = false,
): (request: UnreadRequest) => boolean {
  return (request) => {
    const endpoint = servedBodyEndpoint(request.method ?? '', request.url ?? '', devTokens, orders);
    if (endpoint === undefined || endpoint.public) return false;
    const authorization = request.headers.authorization;
    return (
      bearerToken(Array.isArray(authorization) ? authorization[0] : authorization) === undefined
    );
  };
}

/** The endpoints without a body (the request counter's labels for them). */
const READ_ENDPOINTS: readonly { pattern: RegExp; label: string }[] = [
  { pattern: /^\/api\/commands\/[^/]+\/?$/i, label: 'GET /api/commands/{id}' },
  { pattern: /^\/admin\/commands\/[^/]+\/?$/i, label: 'GET /admin/commands/{id}' },
];

/**
 * The endpoint (its metric label) serving `method` `url` when it is one that takes no body: a
 * GET (or HEAD) of a command status. undefined for anything else.
 */
export function readEndpointOf(method: string, url: string): string | undefined {
  if (method !== 'GET' && method !== 'HEAD') return undefined;
  const path = pathOf(url) ?? '';
  return READ_ENDPOINTS.find((endpoint) => endpoint.pattern.test(path))?.label;
}

/**
 * The label of anything else: a request to one of command-api's paths with a method it does not
 * serve (405), or one refused by the body reader that no endpoint serves (none should be).
 */
export const OTHER_ENDPOINT = 'other';

/**
 * The endpoint (its metric label) serving `method` `url`, if it is one whose body we read.
 * `devTokens`: whether POST /api/dev/tokens is served (DEV_TOKENS); `orders`: whether
 * POST /api/v2/progress/orders is (CommandApiOptions.orders).
 */
export function bodyEndpointOf(
  method: string,
  url: string,
  devTokens = false,
  orders = false,
): string | undefined {
  return servedBodyEndpoint(method, url, devTokens, orders)?.label;
}

function servedBodyEndpoint(method: string, url: string, devTokens: boolean, orders: boolean) {
  const path = pathOf(url) ?? '';
  return BODY_ENDPOINTS.find(
    (endpoint) =>
      endpoint.method === method &&
      (devTokens || !endpoint.devTokens) &&
      (orders || !endpoint.orders) &&
      endpoint.pattern.test(path),
  );
}

/**
 * The request counter's label of `method` `url` when its path is one of command-api's
 * endpoints: the endpoint's when it serves `method` (HEAD as GET, as Express does),
 * OTHER_ENDPOINT when it does not (a 405); undefined for any other path (health checks,
 * /metrics, /docs, unknown paths), which the counter leaves out. Never anything of the client's
 * spelling: a bounded set of labels.
 */
export function answeredEndpointOf(
  method: string,
  url: string,
  devTokens = false,
  orders = false,
): string | undefined {
  const served = bodyEndpointOf(method, url, devTokens, orders);
  if (served !== undefined) return served;
  const path = pathOf(url) ?? '';
  const read = READ_ENDPOINTS.find((endpoint) => endpoint.pattern.test(path));
  if (read) return method === 'GET' || method === 'HEAD' ? read.label : OTHER_ENDPOINT;
  return BODY_ENDPOINTS.some(
    (endpoint) =>
      (devTokens || !endpoint.devTokens) &&
      (orders || !endpoint.orders) &&
      endpoint.pattern.test(path),
  )
    ? OTHER_ENDPOINT
    : undefined;
}
