import { readFile } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import path from 'node:path';

export interface EdgeRoutes {
  /** Base URLs of the command-api instances. */
  commandApi: readonly string[];
  /** Base URLs of the sse-gateway instances. */
  gateways: readonly string[];
  /** Directory with the demo page (index.html, demo.js). */
  demoDirectory: string;
}

const GATEWAY_PATHS = [
  '/events',
  '/api/stream-tokens',
  '/api/session',
  '/api/presence',
  '/api/positions',
];
const DEMO_FILES: Record<string, [string, string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/demo.js': ['demo.js', 'text/javascript; charset=utf-8'],
};

/**
 * The distributed deployment's front door for the demo page: one origin that serves the page,
 * sends SSE and session paths to the sse-gateway instances (round robin, the next one when an
 * instance does not answer — like any load balancer) and everything else to command-api.
 * Streams are piped unbuffered, so SSE frames pass through as they are written.
 */
export function startEdgeProxy(
  routes: EdgeRoutes,
  listen: { port: number; host: string },
): Promise<http.Server> {
  let turn = 0;
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://edge');
    const file = DEMO_FILES[url.pathname];
    if (file && request.method === 'GET') {
      void serveFile(response, path.join(routes.demoDirectory, file[0]), file[1]);
      return;
    }
    const toGateway = GATEWAY_PATHS.some(
      (prefix) => url.pathname === prefix || url.pathname.startsWith(`${prefix}/`),
    );
    const targets = toGateway ? routes.gateways : routes.commandApi;
    const start = turn++;
    forward(
      request,
      response,
      (attempt) => targets[(start + attempt) % targets.length],
      targets.length,
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve(server));
  });
}

async function serveFile(response: ServerResponse, file: string, type: string): Promise<void> {
  try {
    const body = await readFile(file);
    response.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache' }).end(body);
  } catch {
    response.writeHead(404).end();
  }
}

function forward(
  request: IncomingMessage,
  response: ServerResponse,
  target: (attempt: number) => string | undefined,
  attempts: number,
): void {
  const body: Buffer[] = [];
  request.on('data', (chunk: Buffer) => body.push(chunk));
  request.on('end', () => {
    const tryAttempt = (attempt: number) => {
      const base = target(attempt);
      if (!base || attempt >= attempts) {
        response
          .writeHead(502, { 'content-type': 'application/problem+json' })
          .end(
            JSON.stringify({ title: 'Bad Gateway', status: 502, detail: 'no instance answered' }),
          );
        return;
      }
      const upstream = http.request(
        new URL(request.url ?? '/', base),
        {
          method: request.method,
          headers: { ...request.headers, 'x-forwarded-for': request.socket.remoteAddress ?? '' },
        },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          response.flushHeaders();
          answer.pipe(response);
        },
      );
      upstream.on('error', () => {
        if (!response.headersSent) tryAttempt(attempt + 1);
        else response.destroy();
      });
      response.on('close', () => upstream.destroy());
      upstream.end(Buffer.concat(body));
    };
    tryAttempt(0);
  });
}
