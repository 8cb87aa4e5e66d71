import { type Caller } from '@causeway/platform';
import { GroupParams, MoveParams, SeedMoveParams, StatusParams } from '../commands/command.schemas';
import { type CommandService } from '../commands/command.service';
import { validate } from '../commands/validation';
import { type JsonRpcMethod } from './json-rpc.protocol';

/** The methods of `POST /rpc` that send no command. */
export const RPC_READS: ReadonlySet<string> = new Set(['command.status']);

/** The methods of `POST /rpc` for one caller. */
export function rpcMethods(
  caller: Caller,
  commands: CommandService,
): Record<string, JsonRpcMethod> {
  return {
    'trainer.move': async (params) => commands.move(caller, validate(MoveParams, params, 'params')),
    'group.join': async (params) =>
      commands.changeGroup(caller, validate(GroupParams, params, 'params'), 'join'),
    'group.leave': async (params) =>
      commands.changeGroup(caller, validate(GroupParams, params, 'params'), 'leave'),
    'command.status': async (params) =>
      commands.status(caller, validate(StatusParams, params, 'params').commandId),
  };
}

/** The method of the seed's `POST /trainer.Move`: the trainer defaults to the caller's own. */
export function seedMoveMethods(
  caller: Caller,
  commands: CommandService,
): Record<string, JsonRpcMethod> {
  const move: JsonRpcMethod = async (params) => {
    const input = validate(SeedMoveParams, params, 'params');
    return commands.move(caller, { ...input, trainerId: input.trainerId ?? caller.userId });
  };
  return { 'trainer.Move': move, 'trainer.move': move };
}
