import { type ServerResponse } from 'node:http';

/** The problems the edge answers itself, by name (docs/problems.md: `edge-*`). */
const PROBLEMS = {
  'edge-bad-target': { status: 400, title: 'Bad Request' },
  'edge-not-public': { status: 404, title: 'Not Found' },
  'edge-no-instance': { status: 502, title: 'Bad Gateway' },
  'edge-timeout': { status: 504, title: 'Gateway Timeout' },
} as const;

export type EdgeProblem = keyof typeof PROBLEMS;

/** How long a client waits before retrying after the edge found no instance (seconds). */
const RETRY_AFTER_S = 1;

/**
 * Answers with an RFC 9457 problem details document (`application/problem+json`), typed
 * `https://causeway.dev/problems/<name>` like the apps' own; 502 and 504 carry `Retry-After`
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
  response
    .writeHead(status, {
      'content-type': 'application/problem+json',
      ...(status >= 500 && { 'retry-after': String(RETRY_AFTER_S) }),
    })
    .end(JSON.stringify({ type, title, status, detail }));
}
