import {
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';

/** A request handler that serves what it can and passes anything else on with `next()`. */
export type FrontHandler = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

/** A server's first step (`putFirst`) and what runs behind it, in order. */
interface FirstStep {
  behind: RequestListener[];
}

const firstSteps = new WeakMap<Server, FirstStep>();

/**
 * Puts `handle` in front of the server's current request listeners (Express, in a Nest app):
 * every request reaches `handle` first, and the others only when it calls `next()`. How the
 * apps serve their hot paths (sse-gateway's GET /events, command-api's commands) without
 * Express's router, Nest's router and pino-http around each request.
 *
 * A step installed with `putFirst` stays first: `handle` then goes right behind it, in front
 * of everything else, whenever it is installed (before or after the first step).
 */
export function putInFront(server: Server, handle: FrontHandler): void {
  const first = firstSteps.get(server);
  if (first) {
    first.behind = [chained(server, handle, first.behind)];
    return;
  }
  server.on('request', chained(server, handle, takeListeners(server)));
}

/**
 * Puts `handle` in front of every request listener of the server, those put in front later
 * with `putInFront` included (GET /events is only installed when the app boots): for what
 * must see every request before anything answers it, like CORS. One per server.
 */
export function putFirst(server: Server, handle: FrontHandler): void {
  if (firstSteps.has(server)) throw new Error('this server already has a first step (putFirst)');
  const first: FirstStep = { behind: takeListeners(server) };
  firstSteps.set(server, first);
  server.on('request', (req: IncomingMessage, res: ServerResponse) =>
    handle(req, res, () => {
      for (const other of first.behind) other.call(server, req, res);
    }),
  );
}

function takeListeners(server: Server): RequestListener[] {
  const listeners = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  return listeners;
}

function chained(server: Server, handle: FrontHandler, others: RequestListener[]): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) =>
    handle(req, res, () => {
      for (const other of others) other.call(server, req, res);
    });
}
