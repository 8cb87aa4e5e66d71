import { readFile } from 'node:fs/promises';
import http, { type ServerResponse } from 'node:http';
import path from 'node:path';
import { forward } from './edge.forward';
import { documentForm } from './edge.openapi';
import { answerProblem, answerUnparsableRequests } from './edge.problem';

export interface EdgeRoutes {
  /** Base URLs of the command-api instances. */
  commandApi: readonly string[];
  /** Base URLs of the sse-gateway instances. */
  gateways: readonly string[];
  /**
   * Base URLs of the order-processor instances: the progress reads (`/api/v2/progress/status`,
   * `/history`, `/user`, `/monitor`, ADR 015 point 5).
   */
  orderProcessor: readonly string[];
  /** Directory with the demo page (index.html, demo.js). */
  demoDirectory: string;
}

/** The gateways' paths (and what is below them), as segments in lower case. */
const GATEWAY_PATHS = [
  ['events'],
  ['api', 'stream-tokens'],
  ['api', 'session'],
  ['api', 'presence'],
  ['api', 'positions'],
];
/**
 * What each app serves for its operators, on its own port only: metrics, health (its checks name
 * internal hosts and the errors of the servers behind), the admin endpoints (dead letters,
 * command statuses) and a gateway's disconnect of a user. Through the edge they would be open to
 * whoever reaches the demo page.
 */
const OPERATOR_ROOTS = new Set(['metrics', 'health', 'admin']);

/**
 * How the edge takes a path (the request target before `?`), segment by segment as the apps
 * route it — each segment percent-decoded on its own, without regard to case, empty segments
 * (a trailing or doubled slash) ignored:
 * - `operator`: its first segment is `metrics`, `health` or `admin`, or it is
 *   `api/presence/{userId}/disconnect` (whatever the user id decodes to);
 * - `ambiguous`: a segment is or decodes to a dot segment (`.`, `..`), which a client or a
 *   proxy may resolve (RFC 3986) to another path than the one checked;
 * - `public`: anything else. An encoded `/` stays inside its segment, as in the apps' routes (a
 *   trainer id may hold one).
 */
export function edgePathKind(pathname: string): 'operator' | 'ambiguous' | 'public' {
  const segments = pathSegments(pathname);
  if (segments === undefined) return 'ambiguous';
  const [first, second, , fourth] = segments;
  if (first !== undefined && OPERATOR_ROOTS.has(first)) return 'operator';
  if (segments.length === 4 && first === 'api' && second === 'presence' && fourth === 'disconnect')
    return 'operator';
  return 'public';
}

/**
 * The path's segments as the apps route them (each percent-decoded on its own, lower case, empty
 * ones dropped), or undefined when one is or decodes to a dot segment.
 */
function pathSegments(pathname: string): string[] | undefined {
  const segments: string[] = [];
  for (const raw of pathname.split('/')) {
    if (raw === '') continue;
    let segment = raw;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      // Not valid percent-encoding: taken as it is (the apps answer 400 or 404 to it).
    }
    if (segment === '.' || segment === '..') return undefined;
    segments.push(segment.toLowerCase());
  }
  return segments;
}

/** Which pool serves a request (ADR 015 point 7 for the progress paths). */
export type EdgeUpstream = 'commandApi' | 'gateways' | 'orderProcessor';

/** The app each pool runs, as the edge's 502 and 504 problems name it. */
const APP_OF: Record<EdgeUpstream, string> = {
  commandApi: 'command-api',
  gateways: 'sse-gateway',
  orderProcessor: 'order-processor',
};

/**
 * The pool a public path goes to, matched segment by segment as the apps route it (so
 * `/API/v2/Progress/orders/` is the order endpoint too, and `/Events` a gateway's stream):
 * - `POST /api/v2/progress/orders` → command-api (order intake, ADR 015 point 1);
 * - `/api/v2/progress/subscribe` and below → the gateways (the SSE progress streams, point 4);
 * - any other `/api/v2/progress/…` → order-processor (status, history, user, monitor, point 5);
 * - `/events`, `/api/stream-tokens`, `/api/session`, `/api/presence`, `/api/positions` and below
 *   → the gateways; everything else → command-api.
 */
export function edgeUpstreamOf(method: string, pathname: string): EdgeUpstream {
  const segments = pathSegments(pathname) ?? [];
  const [first, second, third, fourth] = segments;
  if (first === 'api' && second === 'v2' && third === 'progress') {
    if (method === 'POST' && fourth === 'orders' && segments.length === 4) return 'commandApi';
    if (fourth === 'subscribe') return 'gateways';
    return 'orderProcessor';
  }
  const toGateway = GATEWAY_PATHS.some((prefix) =>
    prefix.every((segment, i) => segments[i] === segment),
  );
  return toGateway ? 'gateways' : 'commandApi';
}

const DEMO_FILES: Record<string, [string, string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/demo.js': ['demo.js', 'text/javascript; charset=utf-8'],
};

/** How the edge listens, and how long it waits for a backend. */
export interface EdgeOptions {
  port: number;
  host: string;
  /**
   * A backend silent this long — connecting, taking the request body, or before its response
   * headers (a hung or stopped process) — gets the client 504 problem details. There is no
   * limit once the headers arrived: SSE streams on /events stay open. Default 30 000 ms, the
   * apps' COMMAND_TIMEOUT_MS.
   */
  upstreamTimeoutMs?: number;
}

export const DEFAULT_UPSTREAM_TIMEOUT_MS = 30_000;

/**
 * The distributed deployment's front door for the demo page: one origin that serves the page
 * (GET and HEAD of `/`, `/index.html`, `/demo.js`),
 * sends SSE and session paths to the sse-gateway instances (round robin, the next one when an
 * instance refuses the connection — like any load balancer), the progress reads to
 * order-processor and everything else to command-api (see edgeUpstreamOf),
 * except the apps' operator paths (`/metrics`, `/admin/…`: 404 problem details), which
 * command-api's OpenAPI document (`/docs-json`, `/docs-yaml`, the `/docs` page) then does not
 * list either (publicDocument).
 * Requests only ever go to those configured instances: a request target that is not a path
 * starting with a single "/" (absolute-form `http://host/…`, `*`, or `//host/…` and `/\host/…`,
 * which URL parsers read as a host) gets 400 problem details. Bodies and answers are streamed
 * unbuffered (SSE frames pass through as they are written); see forward() for timeouts,
 * X-Forwarded-For and errors.
 */
export function startEdgeProxy(routes: EdgeRoutes, options: EdgeOptions): Promise<http.Server> {
  const timeoutMs = options.upstreamTimeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS;
  const nextGateways = roundRobin(routes.gateways);
  const nextCommandApi = roundRobin(routes.commandApi);
  const nextOrderProcessor = roundRobin(routes.orderProcessor);
  const next: Record<EdgeUpstream, () => string[]> = {
    commandApi: nextCommandApi,
    gateways: nextGateways,
    orderProcessor: nextOrderProcessor,
  };
  const server = http.createServer((request, response) => {
    const target = request.url ?? '';
    if (!ORIGIN_FORM.test(target)) {
      answerProblem(
        response,
        'edge-bad-target',
        'the request target must be a path that starts with a single "/"',
      );
      return;
    }
    const pathname = target.split('?', 1)[0]!;
    const kind = edgePathKind(pathname);
    if (kind === 'ambiguous') {
      answerProblem(
        response,
        'edge-bad-target',
        'the path must not contain dot segments ("." or "..", encoded or not)',
      );
      return;
    }
    if (kind === 'operator') {
      answerProblem(
        response,
        'edge-not-public',
        "metrics and admin endpoints are served on each app's own port, not through the edge",
      );
      return;
    }
    const file = DEMO_FILES[pathname];
    // HEAD as GET (RFC 9110 §9.3.2), without the body: node:http sends none for a HEAD.
    if (file && (request.method === 'GET' || request.method === 'HEAD')) {
      void serveFile(response, routes.demoDirectory, file[0], file[1]);
      return;
    }
    const upstream = edgeUpstreamOf(request.method ?? 'GET', pathname);
    // command-api's OpenAPI document, rewritten to hold only what the edge forwards: the paths
    // edgePathKind takes as public, the rule of the 404 above.
    const form =
      upstream === 'commandApi' && (request.method === 'GET' || request.method === 'HEAD')
        ? documentForm(pathSegments(pathname) ?? [])
        : undefined;
    const rewrite =
      form && ((text: string) => form(text, (path) => edgePathKind(path) === 'public'));
    forward(request, response, next[upstream](), timeoutMs, APP_OF[upstream], rewrite);
  });
  answerUnparsableRequests(server);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve(server));
  });
}

/**
 * Round robin over one pool of backends: each call gives the whole pool, starting one further
 * than the call before (the rest are the fallbacks, in order). Each pool keeps its own turn, so
 * requests to one pool never shift where the other's next request goes.
 */
export function roundRobin(pool: readonly string[]): () => string[] {
  let turn = 0;
  return () => {
    const start = turn;
    turn = pool.length === 0 ? 0 : (turn + 1) % pool.length;
    return pool.map((_, i) => pool[(start + i) % pool.length]!);
  };
}

/** "/" then anything but a second "/" or "\\" (origin-form, minus what reads as a host). */
const ORIGIN_FORM = /^\/(?![/\\])/;

async function serveFile(
  response: ServerResponse,
  directory: string,
  file: string,
  type: string,
): Promise<void> {
  try {
    const body = await readFile(path.join(directory, file));
    response
      .writeHead(200, {
        'content-type': type,
        'content-length': body.length,
        'cache-control': 'no-cache',
      })
      .end(body);
  } catch (error) {
    // The launcher's own files (the demo directory moved, unreadable): the edge's fault, said
    // so, not a bare 404 that reads as a wrong address. The code only: the path stays internal.
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    answerProblem(
      response,
      'edge-demo-unavailable',
      `the demo page's ${file} cannot be read (${code})`,
    );
  }
}
