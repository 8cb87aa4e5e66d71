/** Query parameters whose values are credentials (stream tokens, bearer tokens in links). */
const CREDENTIAL_PARAMETERS =
  /^(token|access_token|id_token|refresh_token|jwt|auth|api_key|apikey|key|password|passwd|pass|pwd|passphrase|secret|client_secret)$/i;

/**
 * Whether a parameter name names a credential: the name itself or any of its bracketed parts,
 * as query parsers read them (`token[]`, `token[0]`, `a[token]`).
 */
function isCredential(name: string): boolean {
  return name.split(/[[\]]+/).some((part) => part !== '' && CREDENTIAL_PARAMETERS.test(part));
}

/** What replaces a credential in a log line or an error document. */
export const REDACTED = '[Redacted]';

/**
 * The request target with every credential in its query string replaced (`/events?token=…` →
 * `/events?token=[Redacted]`), for logs. Anything that does not parse as a query parameter is
 * kept as it came; a target without a query string is returned unchanged.
 */
export function redactTarget(target: string | undefined): string | undefined {
  if (target === undefined) return undefined;
  // An absolute-form target (RFC 9112 §3.2.2) may name a user and password: never logged.
  const origin = ABSOLUTE_FORM.exec(target)?.[0];
  if (origin !== undefined && origin.includes('@'))
    target = origin.replace(/\/\/.*@/, `//${REDACTED}@`) + target.slice(origin.length);
  const query = target.indexOf('?');
  if (query < 0) return target;
  const parameters = target
    .slice(query + 1)
    .split('&')
    .map((parameter) => {
      const equals = parameter.indexOf('=');
      const name = equals < 0 ? parameter : parameter.slice(0, equals);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        // A malformed escape: judge the name as it came.
      }
      return isCredential(decoded) ? `${name}=${REDACTED}` : parameter;
    });
  return `${target.slice(0, query)}?${parameters.join('&')}`;
}

/**
 * A parsed query (Express's `req.query`, as request loggers print it) with the value of every
 * credential parameter replaced, at any depth (`?a[token]=…`) and whatever the case of its
 * name; a copy, the request keeps its own. Anything that is not an object is returned as it is.
 */
export function redactQuery(query: unknown): unknown {
  if (Array.isArray(query)) return query.map(redactQuery);
  if (query === null || typeof query !== 'object') return query;
  return Object.fromEntries(
    Object.entries(query).map(([name, value]) => [
      name,
      isCredential(name) ? REDACTED : redactQuery(value),
    ]),
  );
}

/**
 * The scheme and authority of an absolute-form request target (`http://user:pw@host:80` of
 * `http://user:pw@host:80/rpc?x`), which an HTTP/1.1 server must accept (RFC 9112 §3.2.2)
 * and Express routes by its path.
 */
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;

/**
 * The path of a request target, without its query string: what an error document names, and
 * what routes see. An absolute-form target (`http://host/rpc`) gives its path (`/rpc`), as
 * Express routes it: its scheme and authority (which may hold a user and password) are not path.
 */
export function pathOf(target: string | undefined): string | undefined {
  if (target === undefined) return undefined;
  const origin = ABSOLUTE_FORM.exec(target)?.[0];
  if (origin !== undefined) {
    const rest = target.slice(origin.length);
    target = rest.startsWith('/') ? rest : `/${rest}`;
  }
  const query = target.indexOf('?');
  return query < 0 ? target : target.slice(0, query);
}

/**
 * pino redaction paths of every Causeway service: request credentials (Proxy-Authorization too:
 * without a proxy in front, a client's proxy credentials reach the app; X-Api-Key, the usual
 * header of an API key) and the session cookie a response sets (its value is an access token).
 */
export const REDACTED_LOG_PATHS = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'req.query.token',
  'res.headers["set-cookie"]',
];

/** The most of a client's path an error document repeats. */
export const ECHOED_PATH_MAX = 256;

/**
 * A request target as an error document may repeat it (a problem's `instance`): its path
 * without the query (which may hold a credential), at most ECHOED_PATH_MAX characters, then `…`
 * (the path is client input: an id of 5 000 characters, say).
 */
export function echoedPath(target: string | undefined): string | undefined {
  const path = pathOf(target);
  return path !== undefined && path.length > ECHOED_PATH_MAX
    ? `${path.slice(0, ECHOED_PATH_MAX)}…`
    : path;
}

/**
 * Whether the request log leaves a request out: `/metrics` and `/health…`, polled every few
 * seconds. By path, as Express routes it (any query, a trailing slash, any case): a Prometheus
 * job's `params:` (`/metrics?name[]=…`) made each scrape an info line. Only those paths:
 * `/healthcare/…` is an app's, and logged.
 */
export function unloggedRequest(target: string | undefined): boolean {
  const path = pathOf(target)?.toLowerCase().replace(/\/$/, '');
  return path === '/metrics' || path === '/health' || (path?.startsWith('/health/') ?? false);
}
