import { Controller, Delete, HttpCode, Param, Post, Put, Req, Res } from '@nestjs/common';
import { CallerGate } from '@causeway/platform';
import { BearerAuthenticator } from '../auth/bearer.authenticator';
import { GroupParams, MoveBody } from '../commands/command.schemas';
import { CommandService } from '../commands/command.service';
import { FieldCheck } from '../commands/validation';
import { EndpointRunner, jsonBody } from '../http/endpoint.runner';
import { type ApiRequest, type ApiResponse } from '../http/http.types';
import { refuseQuery } from '../http/query.refusal';
import { IdempotencyGate, idempotencyKeyErrors } from '../idempotency/idempotency.gate';
import { routePath } from '../idempotency/idempotency.target';

const GroupPath = GroupParams.pick({ trainerId: true, groupId: true });
const TrainerPath = GroupParams.pick({ trainerId: true });
/** The optional JSON body of PUT / DELETE /api/trainers/{id}/groups/{groupId}. */
export const GroupBody = GroupParams.pick({ timestamp: true });

/** REST commands on a trainer; each answers 202 `{status: "accepted", commandId, timestamp}`. */
@Controller('api/trainers')
export class TrainersController {
  constructor(
    private readonly runner: EndpointRunner,
    private readonly gate: CallerGate,
    private readonly auth: BearerAuthenticator,
    private readonly idempotency: IdempotencyGate,
    private readonly commands: CommandService,
  ) {}

  @Post(':trainerId/move')
  @HttpCode(202)
  async move(
    @Param('trainerId') trainerId: string,
    @Req() request: ApiRequest,
    @Res() response: ApiResponse,
  ): Promise<void> {
    await this.runner.run('POST /api/trainers/{id}/move', request, response, async () => {
      const caller = await this.gate.admit(request, () => this.auth.caller(request));
      refuseQuery(request);
      // Refused before the Idempotency-Key is looked up: bad input writes nothing, even there.
      // One 422 names every wrong field: the path's, the body's and the key's.
      const check = new FieldCheck();
      const parsedPath = check.parse(TrainerPath, { trainerId }, '(path)');
      const parsedMove = check.parse(MoveBody, jsonBody(request), '(body)');
      check.add(idempotencyKeyErrors(request));
      check.done();
      const [path, move] = [parsedPath!, parsedMove!];
      this.commands.authorize(caller, path.trainerId);
      const answer = await this.idempotency.run(
        caller,
        request,
        async () => {
          const accepted = await this.commands.move(caller, { ...move, trainerId: path.trainerId });
          return { status: 202, body: accepted, storable: true };
        },
        routePath('/api/trainers/{trainerId}/move', path),
      );
      return { ...answer, outcome: answer.replayed ? 'replayed' : 'accepted' };
    });
  }

  @Put(':trainerId/groups/:groupId')
  async join(
    @Param('trainerId') trainerId: string,
    @Param('groupId') groupId: string,
    @Req() request: ApiRequest,
    @Res() response: ApiResponse,
  ): Promise<void> {
    await this.changeGroup('join', trainerId, groupId, request, response);
  }

  @Delete(':trainerId/groups/:groupId')
  async leave(
    @Param('trainerId') trainerId: string,
    @Param('groupId') groupId: string,
    @Req() request: ApiRequest,
    @Res() response: ApiResponse,
  ): Promise<void> {
    await this.changeGroup('leave', trainerId, groupId, request, response);
  }

  private async changeGroup(
    action: 'join' | 'leave',
    trainerId: string,
    groupId: string,
    request: ApiRequest,
    response: ApiResponse,
  ): Promise<void> {
    const endpoint = `${action === 'join' ? 'PUT' : 'DELETE'} /api/trainers/{id}/groups/{groupId}`;
    await this.runner.run(endpoint, request, response, async () => {
      const caller = await this.gate.admit(request, () => this.auth.caller(request));
      refuseQuery(request);
      const check = new FieldCheck();
      const parsed = check.parse(GroupPath, { trainerId, groupId }, '(path)');
      const extra = check.parse(GroupBody.optional(), jsonBody(request), '(body)');
      check.add(idempotencyKeyErrors(request));
      check.done();
      const path = parsed!;
      this.commands.authorize(caller, path.trainerId, { action, groupId: path.groupId });
      const answer = await this.idempotency.run(
        caller,
        request,
        async () => {
          const accepted = await this.commands.changeGroup(caller, { ...path, ...extra }, action);
          return { status: 202, body: accepted, storable: true };
        },
        routePath('/api/trainers/{trainerId}/groups/{groupId}', path),
      );
      return { ...answer, outcome: answer.replayed ? 'replayed' : 'accepted' };
    });
  }
}
