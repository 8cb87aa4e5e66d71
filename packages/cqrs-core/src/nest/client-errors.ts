import { type Server, STATUS_CODES } from 'node:http';
import { type Duplex } from 'node:stream';

/**
 * The status node:http answers a request it could not parse with (its own choice, kept): headers
 * too large 431, chunk extensions too large 413, a request that took too long 408, else 400.
 */
function clientErrorStatus(code: string | undefined): number {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return 431;
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return 413;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 408;
    default:
      return 400;
  }
}

/** The raw HTTP/1.1 answer to a request node:http could not parse: a problem document, then close. */
export function clientErrorAnswer(code: string | undefined): string {
  const status = clientErrorStatus(code);
  const title = STATUS_CODES[status] ?? 'Bad Request';
  const detail =
    status === 431
      ? 'The request header fields are too large.'
      : status === 408
        ? 'The request was not received in time.'
        : status === 413
          ? 'The chunk extensions of the request are too large.'
          : 'The request is not valid HTTP.';
  const body = JSON.stringify({ type: 'about:blank', title, status, detail });
  return (
    `HTTP/1.1 ${status} ${title}\r\n` +
    'Content-Type: application/problem+json\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n' +
    '\r\n' +
    body
  );
}

/**
 * Answers the requests node:http cannot parse (headers too large: 431; malformed: 400; …) with a
 * minimal `application/problem+json` document, like every other error of the app, instead of
 * node's bare status line — then closes the connection, as node does. Nothing is written when
 * the socket cannot take it or a response on it has begun (a pipelined request's): node's rule.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    // The response in flight on this socket, if any (node's own check reads the same field).
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (error.code !== 'ECONNRESET' && socket.writable && !inFlight?.headersSent)
      socket.end(clientErrorAnswer(error.code), () => socket.destroy());
    else socket.destroy();
  });
}
