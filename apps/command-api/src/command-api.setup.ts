import { type Server } from 'node:http';
import { type INestApplication, Logger } from '@nestjs/common';
import { type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import {
  COMMAND_API_OPTIONS,
  DEFAULT_MAX_BODY_BYTES,
  type CommandApiOptions,
} from './command-api.options';
import {
  answeredEndpointOf,
  bodyEndpointOf,
  OTHER_ENDPOINT,
  readEndpointOf,
  unreadWithoutToken,
} from './http/body.endpoints';
import { putInFront } from '@causeway/platform';
import { commandApiBodyReader } from './http/command-api.body';
import { type BodyStep, commandRoute, CommandsListener } from './http/commands.listener';
import { type ApiRequest } from './http/http.types';
import { CommandApiMetrics } from './metrics/command-api.metrics';
import { commandApiOpenApi } from './openapi/openapi.document';
import { mergeOpenApi } from './openapi/openapi.merge';
import { TrainersController } from './rest/trainers.controller';
import { RpcController } from './rpc/rpc.controller';

/**
 * What CommandApiModule cannot do from inside a module; call it after NestFactory.create and
 * before `listen`/`init` (in the standalone app and in the embedded one):
 * - mounts command-api's body reader on its endpoints (`bodyEndpointOf`), ahead of Nest's body
 *   parsers, so that an oversized body is a 413 and a non-JSON one a 415 problem document; the
 *   body of a request without the bearer token its endpoint needs is not read
 *   (`unreadWithoutToken`): its 401 comes whatever the body;
 * - serves the OpenAPI document at /docs (Swagger UI), /docs-json and /docs-yaml, with the paths
 *   and components of `documents` merged in (other modules of the same app: the embedded mode's
 *   SSE gateway);
 * - puts the command endpoints in front of Express (`CommandsListener`), logging one access
 *   line per request there when `accessLog` is set (pino-http does not see them), with the
 *   request's id (`req.id`, echoed in X-Request-Id) and the ids of the commands sent. Express
 *   middleware of your own then does not run for those endpoints: set `commandsThroughExpress`
 *   to keep them behind Express (slower: ~0.3 ms CPU per request). CORS needs neither:
 *   `allowCrossOrigin` (@causeway/platform) stays in front of these listeners, called before or
 *   after this.
 */
export function setupCommandApi(
  app: INestApplication,
  options: Pick<CommandApiOptions, 'maxBodyBytes'> & {
    docsPath?: string;
    /** OpenAPI documents of other modules in the same app, served in one with command-api's. */
    documents?: OpenAPIObject[];
    accessLog?: boolean;
    commandsThroughExpress?: boolean;
  },
): void {
  const metrics = app.get(CommandApiMetrics);
  const { devTokens, orders } = app.get<symbol, CommandApiOptions>(COMMAND_API_OPTIONS);
  const endpointOf = (request: { method: string; originalUrl: string }) =>
    bodyEndpointOf(request.method, request.originalUrl, devTokens, orders !== undefined);
  const readBody = commandApiBodyReader({
    maxBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    onRefused: (request, outcome) =>
      metrics.countRequest(request, endpointOf(request) ?? OTHER_ENDPOINT, outcome),
  });
  // Without a bearer token the controller answers 401 whatever the body: it is not read (nor by
  // Nest's parsers after this: CommandApiModule's UNREAD_BODIES names the same requests).
  const unread = unreadWithoutToken(devTokens, orders !== undefined);
  const reader: BodyStep = (request, response, next) =>
    unread({ method: request.method, url: request.originalUrl, headers: request.headers })
      ? next()
      : readBody(request, response, next);
  // Only for the methods and paths a controller serves: anything else (PROPFIND /rpc, GET
  // /api/trainers/x/move) goes on to Nest's 404 instead of a 415 or 413 from here.
  app.use((...[request, response, next]: Parameters<BodyStep>) => {
    if (readEndpointOf(request.method, request.originalUrl) !== undefined) {
      ignoreBody(request);
      return next();
    }
    return endpointOf(request) === undefined ? next() : reader(request, response, next);
  });
  if (!options.commandsThroughExpress) commandsInFront(app, reader, options.accessLog);
  // In front of everything of command-api's (the listener above, Express): the answers no
  // endpoint counted (405, Express's 400 for a path it cannot decode) are counted too.
  putInFront(app.getHttpServer() as Server, (req, res, next) => {
    const endpoint = answeredEndpointOf(req.method ?? '', req.url ?? '', devTokens, !!orders);
    if (endpoint !== undefined)
      res.once('finish', () => metrics.countAnswer(req, endpoint, res.statusCode));
    next();
  });

  const docsPath = options.docsPath ?? 'docs';
  const document = mergeOpenApi(
    commandApiOpenApi({ devTokens, orders: orders !== undefined }),
    ...(options.documents ?? []),
  );
  SwaggerModule.setup(docsPath, app, document, {
    jsonDocumentUrl: `${docsPath}-json`,
    yamlDocumentUrl: `${docsPath}-yaml`,
  });
}

/** The command endpoints served by a node:http listener ahead of Express (`CommandsListener`). */
function commandsInFront(app: INestApplication, reader: BodyStep, accessLog?: boolean): void {
  const trainers = app.get(TrainersController);
  const rpc = app.get(RpcController);
  const logger = new Logger('CommandApi');
  new CommandsListener(
    [
      commandRoute('/api/trainers/{trainerId}/move', '/api/trainers', (params, req, res) =>
        trainers.move(params.trainerId!, req, res),
      ),
      commandRoute('/rpc', '/rpc', (_params, req, res) => rpc.rpc(req, res)),
      commandRoute('/trainer.Move', '/trainer.Move', (_params, req, res) => rpc.seedMove(req, res)),
    ],
    reader,
    accessLog ? (line, fields) => logger.log({ msg: line, ...fields }) : undefined,
  ).install(app.getHttpServer() as Server);
}

/**
 * A command status read (`GET /api/commands/{id}`, `/admin/commands/{id}`) takes no body: one
 * sent anyway is ignored, as the answer does not depend on it. Nest's body parsers, which run
 * after this (ahead of the routes), would otherwise read it before the token is checked: a
 * stray `Content-Type: application/json` with a body that is not JSON was a 400
 * `malformed-json` (a coding or charset they cannot read a 415, over 100 kB a 413) instead of
 * the 401, or the status, the request gets without a body — answers /docs-json does not list.
 * Without its Content-Type no parser reads it; Node discards the unread body once the answer is
 * written.
 */
function ignoreBody(request: ApiRequest): void {
  delete request.headers['content-type'];
}
