import { type IncomingMessage } from 'node:http';
import { Controller, Get, Inject, Logger, Param, Req, Res } from '@nestjs/common';
import { type AdminRefused, AdminToken } from '@causeway/cqrs-core/nest';
import { type CommandStatus } from '@causeway/contracts';
import { adminRefusals, CallerGate } from '@causeway/platform';
import { COMMAND_API_OPTIONS, type CommandApiOptions } from '../command-api.options';
import { UnauthenticatedError } from '../errors/command-api.errors';
import { BearerAuthenticator } from '../auth/bearer.authenticator';
import { StatusParams } from '../commands/command.schemas';
import { CommandService } from '../commands/command.service';
import { validate } from '../commands/validation';
import { EndpointRunner } from '../http/endpoint.runner';
import { type ApiRequest, type ApiResponse } from '../http/http.types';
import { refuseQuery } from '../http/query.refusal';

/**
 * What became of one of the caller's commands. Unknown and other users' ids are both 404; an
 * id that is not a UUID is 422 naming `commandId`, as JSON-RPC `command.status` answers -32602.
 */
@Controller('api/commands')
export class CommandsController {
  constructor(
    private readonly runner: EndpointRunner,
    private readonly gate: CallerGate,
    private readonly auth: BearerAuthenticator,
    private readonly commands: CommandService,
  ) {}

  @Get(':commandId')
  async status(
    @Param('commandId') commandId: string,
    @Req() request: ApiRequest,
    @Res() response: ApiResponse,
  ): Promise<void> {
    await answerStatus(
      this.runner,
      'GET /api/commands/{id}',
      request,
      response,
      async () => {
        const caller = await this.gate.admit(request, () => this.auth.caller(request));
        return (id) => this.commands.status(caller, id);
      },
      commandId,
    );
  }
}

/**
 * Any user's command status, for operators (`Authorization: Bearer <ADMIN_TOKEN>`, else 401;
 * 429 `rate-limited` once the address spent its ADMIN_REFUSALS):
 * "my moves do nothing" is answered from the command ids in the access log or the user's
 * report without acting as the user. Not forwarded by the demo's edge (an operator path).
 */
@Controller('admin/commands')
export class AdminCommandsController {
  private readonly admin: AdminToken;
  private readonly refused: AdminRefused;

  constructor(
    private readonly runner: EndpointRunner,
    private readonly commands: CommandService,
    @Inject(COMMAND_API_OPTIONS) options: CommandApiOptions,
  ) {
    this.admin = new AdminToken(options.adminToken);
    this.refused =
      options.adminRefused ??
      adminRefusals({
        ...(options.trustedProxies && { proxies: options.trustedProxies }),
        warn: (message) => new Logger('AdminToken').warn(message),
      });
  }

  @Get(':commandId')
  async status(
    @Param('commandId') commandId: string,
    @Req() request: ApiRequest,
    @Res() response: ApiResponse,
  ): Promise<void> {
    await answerStatus(
      this.runner,
      'GET /admin/commands/{id}',
      request,
      response,
      async () => {
        if (!this.admin.matches(request)) {
          // Guessing the admin token costs the client address one of its ADMIN_REFUSALS (429
          // beyond), as on /admin/dead-letters: the same counts, not the callers' rate.
          // (Express' request is the IncomingMessage; ApiRequest types the part the app reads.)
          await this.refused(request as unknown as IncomingMessage);
          throw new UnauthenticatedError(
            'an admin bearer token is required',
            request.headers.authorization === undefined ? 'missing' : 'invalid',
          );
        }
        return (id) => this.commands.anyStatus(id);
      },
      commandId,
    );
  }
}

/**
 * A command status endpoint: `admit` authenticates the request and says how this caller reads
 * a status; a query parameter is refused and the id validated after it (a 401 before a 400 or
 * a 422), then read.
 */
async function answerStatus(
  runner: EndpointRunner,
  endpoint: string,
  request: ApiRequest,
  response: ApiResponse,
  admit: () => Promise<(commandId: string) => Promise<CommandStatus>>,
  commandId: string,
): Promise<void> {
  await runner.run(endpoint, request, response, async () => {
    const read = await admit();
    refuseQuery(request);
    const path = validate(StatusParams, { commandId }, '(path)');
    return { status: 200, body: await read(path.commandId), outcome: 'ok' };
  });
}
