import { Controller, Get, Inject, Param, Req, Res } from '@nestjs/common';
import { AdminToken } from '@causeway/cqrs-core/nest';
import { CallerGate } from '@causeway/platform';
import { COMMAND_API_OPTIONS, type CommandApiOptions } from '../command-api.options';
import { UnauthenticatedError } from '../errors/command-api.errors';
import { BearerAuthenticator } from '../auth/bearer.authenticator';
import { StatusParams } from '../commands/command.schemas';
import { CommandService } from '../commands/command.service';
import { validate } from '../commands/validation';
import { EndpointRunner } from '../http/endpoint.runner';
import { type ApiRequest, type ApiResponse } from '../http/http.types';

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
    await this.runner.run('GET /api/commands/{id}', request, response, async () => {
      const caller = await this.gate.admit(request, () => this.auth.caller(request));
      const path = validate(StatusParams, { commandId }, '(path)');
      const status = await this.commands.status(caller, path.commandId);
      return { status: 200, body: status, outcome: 'ok' };
    });
  }
}

/**
 * Any user's command status, for operators (`Authorization: Bearer <ADMIN_TOKEN>`, else 401):
 * "my moves do nothing" is answered from the command ids in the access log or the user's
 * report without acting as the user. Not forwarded by the demo's edge (an operator path).
 */
@Controller('admin/commands')
export class AdminCommandsController {
  private readonly admin: AdminToken;

  constructor(
    private readonly runner: EndpointRunner,
    private readonly commands: CommandService,
    @Inject(COMMAND_API_OPTIONS) options: CommandApiOptions,
  ) {
    this.admin = new AdminToken(options.adminToken);
  }

  @Get(':commandId')
  async status(
    @Param('commandId') commandId: string,
    @Req() request: ApiRequest,
    @Res() response: ApiResponse,
  ): Promise<void> {
    await this.runner.run('GET /admin/commands/{id}', request, response, async () => {
      if (!this.admin.matches(request))
        throw new UnauthenticatedError('an admin bearer token is required');
      const path = validate(StatusParams, { commandId }, '(path)');
      const status = await this.commands.anyStatus(path.commandId);
      return { status: 200, body: status, outcome: 'ok' };
    });
  }
}
