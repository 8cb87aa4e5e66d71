import {
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';

/** A request handler that serves what it can and passes anything else on with `next()`. */
export type FrontHandler = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

/**
 * Puts `handle` in front of the server's current request listeners (Express, in a Nest app):
 * every request reaches `handle` first, and the others only when it calls `next()`. How the
 * apps serve their hot paths (sse-gateway's GET /events, command-api's commands) without
 * Express's router, Nest's router and pino-http around each request.
 */
export function putInFront(server: Server, handle: FrontHandler): void {
  const others = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) =>
    handle(req, res, () => {
      for (const other of others) other.call(server, req, res);
    }),
  );
}
