import {
  CommandBus,
  type Envelope,
  InMemoryBroker,
  Router,
  topicNaming,
} from '@causeway/cqrs-core';
import { contractsSerializer } from '@causeway/contracts';
import { COMMAND_TOPICS, InMemoryCommandStatusStore } from '@causeway/platform';
import { type CommandApiOptions } from '../command-api.options';
import { CommandBacklogError } from '../errors/command-api.errors';
import { type ApiRequest } from '../http/http.types';
import { IdempotencyGate } from '../idempotency/idempotency.gate';
import { InMemoryIdempotencyStore } from '../idempotency/in-memory.idempotency-store';
import { type CommandBacklog } from './command.backlog';
import { CommandService } from './command.service';

/**
 * Tests' command-api on the in-memory command bus: what a trainer-service would receive is
 * recorded (`received`, `arrived(n)`). `instance(options)` makes a CommandService and an
 * IdempotencyGate; instances share the status and idempotency stores, as command-api's
 * instances share Redis.
 */
export async function commandApiOnInMemoryBus(topicPrefix: string) {
  const serializer = contractsSerializer();
  const broker = new InMemoryBroker({ serializer });
  const naming = topicNaming(topicPrefix, { commandTopics: COMMAND_TOPICS });
  const bus = (instanceId: string) => {
    const router = new Router({ subscriber: broker.subscriber(), service: instanceId, instanceId });
    const commands = new CommandBus({ publisher: broker, router, naming, serializer, instanceId });
    return { router, commands };
  };
  const received: Envelope[] = [];
  const trainer = bus('trainer-service');
  trainer.commands.handle(['MoveTrainerCommand', 'ChangeGroupCommand'], (command) => {
    received.push(command);
  });
  const api = bus('command-api');
  await Promise.all([trainer.router.run(), api.router.run()]);
  const commandStatus = new InMemoryCommandStatusStore();
  const idempotency = new InMemoryIdempotencyStore();
  const instance = (options: Partial<CommandApiOptions> = {}) => {
    const all = { serverId: 'api-1', commandStatus, idempotency, ...options } as CommandApiOptions;
    return { service: new CommandService(all, api.commands), gate: new IdempotencyGate(all) };
  };
  const arrived = async (count: number) => {
    for (let i = 0; i < 200 && received.length < count; i++)
      await new Promise((resolve) => setTimeout(resolve, 5));
    return received;
  };
  const close = () => Promise.all([trainer.router.close(), api.router.close()]);
  return { instance, commands: api.commands, commandStatus, received, arrived, close };
}

/** A backlog that refuses (overloaded) the admits the test queued `true` for, in order. */
export function scriptedBacklog(): { backlog: CommandBacklog; refusals: boolean[] } {
  const refusals: boolean[] = [];
  const admit = () => {
    if (refusals.shift()) throw new CommandBacklogError(11, 10, 5);
  };
  return { backlog: { admit } as unknown as CommandBacklog, refusals };
}

/** A JSON request carrying `Idempotency-Key: key`, as the body reader leaves it. */
export function keyedRequest(key: string, url: string, value: unknown): ApiRequest {
  return {
    method: 'POST',
    originalUrl: url,
    headers: { 'idempotency-key': key },
    socket: {},
    commandApiBody: { kind: 'json', value, raw: Buffer.from(JSON.stringify(value)) },
  } as unknown as ApiRequest;
}
