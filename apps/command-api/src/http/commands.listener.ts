import { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { pathOf, requestIdFor } from '@causeway/cqrs-core/nest';
import { putInFront } from '@causeway/platform';
import { type AcceptedCommands, collectAcceptedCommands } from './accepted-commands';
import { type ApiRequest, type ApiResponse } from './http.types';

/** A command endpoint served in front of Express: `POST <path>`, path parameters by name. */
export interface CommandRoute {
  /** The path parameters when `path` (without the query) is this route's, else undefined. */
  match(path: string): Record<string, string> | undefined;
  /** What Express would give as `request.baseUrl` (the route's mount path). */
  baseUrl: string;
  serve(params: Record<string, string>, request: ApiRequest, response: ApiResponse): Promise<void>;
}

/**
 * What an access line carries besides its text: the request's id (`req.id`, as pino-http logs
 * it for the endpoints behind Express), the ids of the commands it sent and, when it sent any,
 * the user who did (what an operator searches for when a user reports moves doing nothing).
 */
export interface AccessFields {
  req: { id: string };
  commandIds: string[];
  userId?: string;
}

/** What runs before a route: command-api's body reader (Express-style middleware). */
export type BodyStep = (
  request: ApiRequest & NodeJS.ReadableStream,
  response: ApiResponse,
  next: () => void,
) => void;

/**
 * The command endpoints (`POST /api/trainers/{id}/move`, `/rpc`, `/trainer.Move`) as a plain
 * node:http request listener in front of Express: a request for one of them runs the body
 * reader and the endpoint's controller method directly, without Express's router, Nest's
 * router and pino-http around it; anything else goes on to Express, unchanged. The controllers
 * only know `ApiRequest` / `ApiResponse`, so both ways run the very same code and answers.
 *
 * Why: that framework layer was a third of command-api's CPU per move (0.90–0.98 ms per request
 * through Express, 0.59–0.63 ms here, sequential client; p50 0.89 → 0.64–0.71 ms) — the first
 * hop of every command, and the one whose queue grows first under load. Access lines are logged
 * here (`log`) when enabled, with the path only: a query string may carry a token, and with the
 * request's id (the caller's well-formed X-Request-Id or a UUID, echoed in the answer's
 * X-Request-Id as for every other endpoint) and the ids of the commands it sent.
 */
export class CommandsListener {
  constructor(
    private readonly routes: readonly CommandRoute[],
    private readonly body: BodyStep,
    private readonly log?: (line: string, fields: AccessFields) => void,
  ) {}

  /** Puts this listener in front of the server's current request listeners (Express). */
  install(server: Server): void {
    putInFront(server, (req, res, next) => this.handle(req, res, next));
  }

  handle(req: IncomingMessage, res: ServerResponse, next: () => void): void {
    if (req.method !== 'POST') return next();
    // An absolute-form target (`POST http://host/rpc`, as a proxy sends it) is served here too.
    const path = pathOf(req.url) ?? '';
    for (const route of this.routes) {
      const params = route.match(path);
      if (params) return this.serve(route, params, path, req, res);
    }
    next();
  }

  private serve(
    route: CommandRoute,
    params: Record<string, string>,
    path: string,
    req: IncomingMessage,
    res: ServerResponse,
  ): void {
    const started = this.log && process.hrtime.bigint();
    const id = requestIdFor(req, res);
    const accepted: AcceptedCommands = { commandIds: [] };
    const request = Object.assign(req, {
      id,
      method: 'POST',
      originalUrl: req.url ?? '',
      baseUrl: route.baseUrl,
      params,
      ip: req.socket.remoteAddress,
    });
    const response: ApiResponse = {
      status(code) {
        res.statusCode = code;
        return this;
      },
      setHeader: (name, value) => void res.setHeader(name, value),
      send: (body) => {
        res.setHeader('Content-Length', Buffer.byteLength(body));
        res.end(body);
      },
      end: () => void res.end(),
    };
    if (started !== undefined)
      res.once('finish', () =>
        this.log!(
          `POST ${path} ${res.statusCode} ${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(1)} ms`,
          {
            req: { id },
            commandIds: accepted.commandIds,
            ...(accepted.userId !== undefined && { userId: accepted.userId }),
          },
        ),
      );
    this.body(request, response, () => {
      collectAcceptedCommands(accepted, () => route.serve(params, request, response)).catch(
        (error: unknown) => {
          // The runner answers every error itself; this is a bug, not a refusal.
          if (!res.headersSent) {
            res.statusCode = 500;
            res.end();
          } else res.destroy(error as Error);
        },
      );
    });
  }
}

/** A route for `POST <pattern>`, where `{name}` is one path segment (URI-decoded). */
export function commandRoute(
  pattern: string,
  baseUrl: string,
  serve: CommandRoute['serve'],
): CommandRoute {
  const names: string[] = [];
  const source = pattern
    .split('/')
    .map((segment) => {
      const name = /^\{(\w+)\}$/.exec(segment)?.[1];
      if (!name) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(name);
      return '([^/]+)';
    })
    .join('/');
  const regex = new RegExp(`^${source}$`);
  return {
    baseUrl,
    match(path) {
      const found = regex.exec(path);
      if (!found) return undefined;
      const params: Record<string, string> = {};
      try {
        names.forEach((name, i) => (params[name] = decodeURIComponent(found[i + 1]!)));
      } catch {
        return undefined; // malformed escapes: Express answers those
      }
      return params;
    },
    serve,
  };
}
