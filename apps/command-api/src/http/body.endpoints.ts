import { pathOf } from '@causeway/cqrs-core/nest';

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
  },
];

/** The label of anything else (no request of command-api's reader should ever get it). */
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
  const path = pathOf(url) ?? '';
  return BODY_ENDPOINTS.find(
    (endpoint) =>
      endpoint.method === method &&
      (devTokens || !endpoint.devTokens) &&
      (orders || !endpoint.orders) &&
      endpoint.pattern.test(path),
  )?.label;
}
