import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import { EdgeAgent } from './edge.agent';
import { answerProblem } from './edge.problem';

const agent = new EdgeAgent();

/**
 * Forwards one request to the first of `backends` (base URLs) that accepts a connection, and
 * pipes its answer back unbuffered.
 *
 * - Only a backend's host and port are used: the upstream request is built from them and the
 *   request target, which the caller has checked is a path (origin-form). Nothing a client
 *   sends can make the edge connect anywhere else.
 * - The body is streamed, never collected: it is read from the client only once a backend has
 *   accepted the connection, so a backend that refuses it (down, restarting) costs nothing and
 *   the next one gets the whole body. A client that aborts mid-body aborts the upstream request.
 * - A backend that answers before it has taken the whole body (413, 401, …): the client gets
 *   that answer, then the connection closes; the edge reads no more of the body. So does a
 *   backend that answers and then closes or resets the connection (EdgeAgent).
 * - X-Forwarded-For: the client's address is appended to the chain the client sent.
 *   Connection and Keep-Alive (hop-by-hop) are not passed on, in either direction, nor the
 *   answer's Transfer-Encoding (node:http frames the body for the client: see answerHeaders).
 * - A backend silent for `timeoutMs` while connecting, taking the body or before its response
 *   headers gets the client 504 (problem details) — but a client that stops sending its body
 *   for `timeoutMs` (the backend took all it sent) gets 408, and the backend's request is
 *   aborted; once connected the request is not retried
 *   elsewhere (the backend may have acted on it). After the headers there is no time limit, so
 *   SSE streams stay open as long as both ends want.
 * - A kept-alive connection the backend closed just before the request reached it (an app's
 *   graceful stop closes its idle connections; the edge cannot tell until it writes): a GET,
 *   HEAD or OPTIONS without a body whose connection then ends or resets (ECONNRESET, EPIPE)
 *   before any answer is tried once more on a fresh connection — to the same instance, or the
 *   next one when that refuses it. Those methods are safe to repeat (RFC 9110 §9.2.2), as
 *   clients and proxies do in this race; anything else (a POST) is never sent twice: the
 *   backend may have acted on it, so the client gets 502 as below.
 * - No backend accepting a connection: 502 (504 when the last one timed out connecting).
 *   Each of these problems names `app`, the app behind the path, so that a client's report
 *   says which one to look at (never an instance's address: that stays internal).
 * - `rewrite`: a 200 answer's body is read whole and passed on as `rewrite` gives it (as it came
 *   when it gives undefined), with its Content-Length and no ETag (the app's names its own
 *   body); a HEAD's answer has no Content-Length then. Other answers are piped as they are.
 */
export function forward(
  request: IncomingMessage,
  response: ServerResponse,
  backends: readonly string[],
  timeoutMs: number,
  app: string,
  rewrite?: (text: string) => string | undefined,
): void {
  const headers = forwardedHeaders(request);
  const repeatable = REPEATABLE_METHODS.has(request.method ?? '') && !hasBody(request);
  let clientGone = false;
  let current: http.ClientRequest | undefined;
  response.once('close', () => {
    clientGone = true;
    current?.destroy();
  });

  const tryBackend = (index: number, lastTimedOut: boolean, fresh = false): void => {
    if (clientGone) return;
    const backend = backends[index];
    if (backend === undefined) {
      if (lastTimedOut)
        answerProblem(response, 'edge-timeout', `no ${app} instance answered in time`);
      else answerProblem(response, 'edge-no-instance', `no ${app} instance answered`);
      return;
    }
    const { hostname, port } = new URL(backend);
    let connected = false;
    let answered = false;
    let failed = false;
    let upstream: http.ClientRequest;
    try {
      upstream = http.request({
        host: hostname.replace(/^\[(.*)\]$/, '$1'), // [::1] → ::1
        port: port || 80,
        method: request.method,
        path: request.url,
        headers,
        // One connection of its own (closed after the answer): not another idle one of the pool,
        // which the stopping app may have closed as well.
        agent: fresh ? false : agent,
        timeout: timeoutMs, // socket idle time, connecting included
      });
    } catch {
      // node:http refuses to send what its own parser let in (it never has so far).
      answerProblem(response, 'edge-bad-target', 'the request cannot be forwarded as sent');
      return;
    }
    current = upstream;
    const fail = (timedOut: boolean, error?: NodeJS.ErrnoException) => {
      if (failed || answered || clientGone) return;
      failed = true;
      upstream.destroy();
      if (!connected) tryBackend(index + 1, timedOut);
      else if (!timedOut && upstream.reusedSocket && closedBeforeReading(error) && repeatable) {
        request.unpipe(upstream);
        tryBackend(index, false, true);
      } else if (timedOut && !request.complete && !backedUp(upstream)) {
        // The app waits for the rest of the body, which the client stopped sending: the client's
        // delay, not the app's (a 504 sent people looking at a healthy app). The rest of the body
        // is not read: the connection closes after the answer.
        response.shouldKeepAlive = false;
        answerProblem(
          response,
          'edge-request-timeout',
          `the request body stopped arriving: nothing came for ${timeoutMs} ms`,
        );
      } else if (timedOut)
        answerProblem(response, 'edge-timeout', `${app} sent no answer within ${timeoutMs} ms`);
      else answerProblem(response, 'edge-no-instance', `the ${app} instance dropped the request`);
    };
    upstream.on('timeout', () => fail(true));
    upstream.on('error', (error) => fail(false, error));
    upstream.on('socket', (socket) => {
      const send = () => {
        connected = true;
        // A retry: the (empty) body was read by the first attempt, whose pipe ended it.
        if (request.readableEnded) upstream.end();
        else request.pipe(upstream);
      };
      if (socket.connecting) socket.once('connect', send);
      else send(); // a kept-alive connection
    });
    upstream.on('response', (answer) => {
      answered = true;
      upstream.setTimeout(0);
      if (clientGone) return;
      // The backend answered before taking the whole body (413, 401, …): the client gets the
      // answer, then the connection closes rather than the edge reading the rest of the body.
      if (!request.complete) response.shouldKeepAlive = false;
      if (rewrite && answer.statusCode === 200) {
        passRewritten(request, response, answer, rewrite);
        return;
      }
      response.writeHead(answer.statusCode ?? 502, answerHeaders(answer.headers));
      response.flushHeaders();
      pipeline(answer, response, () => undefined);
    });
  };
  tryBackend(0, false);
}

/** A 200 answer, its body as `rewrite` gives it (see forward). */
function passRewritten(
  request: IncomingMessage,
  response: ServerResponse,
  answer: IncomingMessage,
  rewrite: (text: string) => string | undefined,
): void {
  const headers = answerHeaders(answer.headers);
  delete headers['content-length'];
  delete headers.etag;
  if (request.method === 'HEAD') {
    answer.resume();
    response.writeHead(200, headers).end();
    return;
  }
  const chunks: Buffer[] = [];
  answer.on('data', (chunk: Buffer) => chunks.push(chunk));
  answer.once('error', () => response.destroy());
  answer.once('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    let body: Buffer;
    try {
      body = Buffer.from(rewrite(text) ?? text);
    } catch {
      body = Buffer.from(text); // not the document it should be: passed on as it came
    }
    response.writeHead(200, { ...headers, 'content-length': body.length }).end(body);
  });
}

/**
 * Whether body the edge passed on still waits to be written to the app (the app stopped reading
 * it, so the edge stopped reading the client): then a timeout is the app's.
 */
function backedUp(upstream: http.ClientRequest): boolean {
  return upstream.writableNeedDrain || (upstream.socket?.writableLength ?? 0) > 0;
}

/** Safe methods (RFC 9110 §9.2.1): the edge may send one again when it was never read. */
const REPEATABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Whether the client sends a body (one the edge could not send a second time). */
function hasBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (!!length && length !== '0');
}

/**
 * Whether a reused connection failed as one the backend closed before reading the request:
 * its end or reset (node:http's "socket hang up" is ECONNRESET) or a failed write (EPIPE).
 */
function closedBeforeReading(error: NodeJS.ErrnoException | undefined): boolean {
  return error?.code === 'ECONNRESET' || error?.code === 'EPIPE';
}

/** The client's end-to-end headers, with its address appended to X-Forwarded-For. */
function forwardedHeaders(request: IncomingMessage): http.OutgoingHttpHeaders {
  const headers = endToEnd(request.headers);
  const chain = request.headers['x-forwarded-for'];
  const earlier = Array.isArray(chain) ? chain.join(', ') : chain;
  const client = request.socket.remoteAddress;
  if (client) headers['x-forwarded-for'] = earlier ? `${earlier}, ${client}` : client;
  // The apps trust the edge's X-Forwarded-* (TRUST_PROXY=loopback): say what the edge itself
  // saw, never what the client claims (a client's "https" would get it Secure cookies on http).
  headers['x-forwarded-proto'] = 'http';
  delete headers['x-forwarded-host'];
  delete headers['x-forwarded-port'];
  delete headers.forwarded;
  return headers;
}

/**
 * The answer's end-to-end headers, without its Transfer-Encoding: node:http took the body out
 * of the app's chunks, and frames it for the client as the client can read it — in chunks
 * again for HTTP/1.1, as is and then closing the connection for HTTP/1.0, which has no chunked
 * coding (RFC 9112 §6.1). Copied, it made node send chunks to an HTTP/1.0 client, which read
 * the chunk sizes as part of the body.
 */
function answerHeaders(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const copy = endToEnd(headers);
  delete copy['transfer-encoding'];
  return copy;
}

/**
 * The headers without the hop-by-hop ones (RFC 9110 §7.6.1): Connection, Keep-Alive and those
 * Connection names concern one connection only; each side of the edge has its own.
 */
function endToEnd(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const copy: http.OutgoingHttpHeaders = { ...headers };
  const named = (headers.connection ?? '').split(',').map((name) => name.trim().toLowerCase());
  for (const name of ['connection', 'keep-alive', ...named]) if (name) delete copy[name];
  return copy;
}
