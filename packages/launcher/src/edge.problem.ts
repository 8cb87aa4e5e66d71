import { type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import { type Duplex } from 'node:stream';
import { ECHOED_PATH_MAX } from '@causeway/cqrs-core/nest';

/** The problems the edge answers itself, by name (docs/problems.md: `edge-*`). */
const PROBLEMS = {
  'edge-bad-target': { status: 400, title: 'Bad Request' },
  'edge-not-public': { status: 404, title: 'Not Found' },
  'edge-request-timeout': { status: 408, title: 'Request Timeout' },
  'edge-demo-unavailable': { status: 500, title: 'Internal Server Error' },
  'edge-no-instance': { status: 502, title: 'Bad Gateway' },
  'edge-timeout': { status: 504, title: 'Gateway Timeout' },
} as const;

export type EdgeProblem = keyof typeof PROBLEMS;

/** How long a client waits before retrying after the edge found no instance (seconds). */
const RETRY_AFTER_S = 1;

/**
 * Answers with an RFC 9457 problem details document (`application/problem+json`), typed
 * `https://causeway.dev/problems/<name>` like the apps' own, with `instance` the request target
 * as the client sent it (echoedTarget); 502 and 504 carry `Retry-After`
 * (an instance may be restarting). When the answer has already begun (a backend's headers went
 * out) it can no longer change, so the connection is cut instead: the client sees a broken
 * response, never a wrong one.
 */
export function answerProblem(response: ServerResponse, name: EdgeProblem, detail: string): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const { status, title } = PROBLEMS[name];
  const type = `https://causeway.dev/problems/${name}`;
  const instance = echoedTarget(response.req?.url);
  response
    .writeHead(status, {
      'content-type': 'application/problem+json',
      ...((status === 502 || status === 504) && { 'retry-after': String(RETRY_AFTER_S) }),
    })
    .end(JSON.stringify({ type, title, status, detail, instance }));
}

/** The scheme (if any), `//` (or `\\` as URL parsers read it) and user info of a target. */
const USER_INFO = /^((?:[a-z][a-z0-9+.-]*:)?[/\\]{2})[^/\\?#]*@/i;

/**
 * A request target as a problem's `instance` repeats it: as the client sent it — an
 * absolute-form `http://host/x` whole, not `/x` as the apps echo it (a path the edge would have
 * taken, so the client could not see what was refused), `//host/x` and `*` as they are — but
 * without its query nor a user and password (`http://ash:pw@host/x?token=t` →
 * `http://host/x`): either may hold a credential. At most ECHOED_PATH_MAX characters, then `…`,
 * as the apps clip a path (the target is client input).
 */
export function echoedTarget(target: string | undefined): string | undefined {
  if (target === undefined) return undefined;
  const echoed = target.split('?', 1)[0]!.replace(USER_INFO, '$1');
  return echoed.length > ECHOED_PATH_MAX ? `${echoed.slice(0, ECHOED_PATH_MAX)}…` : echoed;
}

/**
 * The status node:http gives a request it cannot parse (its own choice, kept): headers too
 * large 431, chunk extensions too large 413, too slow 408, anything else 400.
 */
const UNPARSABLE: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'The request header fields are too large.'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'The chunk extensions of the request are too large.'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'The request was not received in time.'],
};

/**
 * Answers the requests node:http cannot parse (headers too large, malformed) with an
 * `about:blank` problem document, as the apps behind do (cqrs-core's answerClientErrors),
 * instead of node's bare status line: a client gets the same answer through the edge as from
 * an app. Then closes the connection, as node does; nothing is written when the socket cannot
 * take it or a response on it has begun (a pipelined request's).
 */
export function answerUnparsableRequests(server: Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const [status, detail] = UNPARSABLE[error.code ?? ''] ?? [
      400,
      'The request is not valid HTTP.',
    ];
    const title = STATUS_CODES[status] ?? 'Bad Request';
    const body = JSON.stringify({ type: 'about:blank', title, status, detail });
    socket.end(
      `HTTP/1.1 ${status} ${title}\r\n` +
        'Content-Type: application/problem+json\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
      () => socket.destroy(),
    );
  });
}
