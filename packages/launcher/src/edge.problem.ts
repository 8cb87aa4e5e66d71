import { type ServerResponse } from 'node:http';

/**
 * Answers with an RFC 9457 problem details document (`application/problem+json`). When the
 * answer has already begun (a backend's headers went out) it can no longer change, so the
 * connection is cut instead: the client sees a broken response, never a wrong one.
 */
export function answerProblem(
  response: ServerResponse,
  status: number,
  title: string,
  detail: string,
): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  response
    .writeHead(status, { 'content-type': 'application/problem+json' })
    .end(JSON.stringify({ title, status, detail }));
}
