import { pathOf } from '@causeway/cqrs-core/nest';

/**
 * A path segment by its meaning, as Express hands it to a route (`%61sh` is `ash`), spelled as
 * `encodeURIComponent` spells it: the spelling of clients that encode their ids (the demo page,
 * most HTTP libraries), which a key stored before session 41 holds as sent (`Jos%C3%A9`, a
 * trainer id with a space or an `@`): a retry of it keeps its fingerprint across the upgrade.
 * `%` and `/` stay escaped, so no two segments meet (`a%2Fb` is one segment, not `a/b`). One that
 * does not decode (`%zz`, which Express refuses anyway) is kept as sent.
 */
function segmentOf(segment: string): string {
  try {
    return encodeURIComponent(decodeURIComponent(segment));
  } catch {
    return segment;
  }
}

/**
 * What identifies the target of a request under an Idempotency-Key: the spellings of one
 * request a client or a proxy on its way may send are one target. An absolute-form target
 * (`http://host/api/...`, as a forward proxy sends it) is its path; the path is compared
 * percent-decoded and without a trailing slash (Express serves both as one route); the query by
 * its parameters, sorted by name (a parameter's repeated values keep their order, which may
 * mean something). What Express would route elsewhere (another path, other parameter values)
 * stays another target. `route`, the path as routed (routePath), stands for the request's path:
 * Express routes `/RPC` as `/rpc` (its routes ignore case), so they are one target too.
 */
export function fingerprintTarget(originalUrl: string, route?: string): string {
  let path = route ?? (pathOf(originalUrl) ?? '').split('/').map(segmentOf).join('/');
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  // The first `?` starts the query: an absolute form's scheme and authority hold none.
  const at = originalUrl.indexOf('?');
  const params = new URLSearchParams(at < 0 ? '' : originalUrl.slice(at + 1));
  params.sort();
  const query = params.toString();
  return query ? `${path}?${query}` : path;
}

/**
 * The path of a route as matched: `pattern` with each `{name}` its parameter (as routed,
 * decoded), spelled as fingerprintTarget spells a segment — `/api/trainers/{trainerId}/move`
 * and `{trainerId: 'ash'}` are `/api/trainers/ash/move`, however the request spelt the path
 * (`/API/Trainers/%61sh/move/`). A request in the route's own spelling gets the target it got
 * before session 44: a key stored then keeps its fingerprint.
 * @throws Error when the pattern names a parameter `params` lacks (a bug of the caller)
 */
export function routePath(pattern: string, params: Readonly<Record<string, string>>): string {
  return pattern.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`routePath: no parameter ${name} for ${pattern}`);
    return encodeURIComponent(value);
  });
}
