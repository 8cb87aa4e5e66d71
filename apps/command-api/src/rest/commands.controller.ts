import { Controller, Get, Param, Req, Res } from '@nestjs/common';
import { z } from 'zod';
import { CallerGate } from '../auth/caller.gate';
import { CommandService } from '../commands/command.service';
import { NotFoundError } from '../errors/command-api.errors';
import { EndpointRunner } from '../http/endpoint.runner';
import { type ApiRequest, type ApiResponse } from '../http/http.types';

const CommandId = z.uuid();

/** What became of one of the caller's commands. Unknown and other users' ids are both 404. */
@Controller('api/commands')
export class CommandsController {
  constructor(
    private readonly runner: EndpointRunner,
    private readonly gate: CallerGate,
    private readonly commands: CommandService,
  ) {}

  @Get(':commandId')
  async status(
    @Param('commandId') commandId: string,
    @Req() request: ApiRequest,
    @Res() response: ApiResponse,
  ): Promise<void> {
    await this.runner.run('GET /api/commands/{id}', request, response, async () => {
      const caller = await this.gate.admit(request);
      if (!CommandId.safeParse(commandId).success)
        throw new NotFoundError(`no command ${commandId}`);
      const status = await this.commands.status(caller, commandId);
      return { status: 200, body: status, outcome: 'ok' };
    });
  }
}
