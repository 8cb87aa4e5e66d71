import {
  CommandBus,
  CommandExpiredError,
  CommandRejectedError,
  deadLetter,
  type Envelope,
  InMemoryBroker,
  InMemoryDeadLetterQueue,
  InMemoryEventStore,
  MessageFactory,
  retry,
  Router,
  topicNaming,
} from '@causeway/cqrs-core';
import { contractsSerializer } from '@causeway/contracts';
import {
  COMMAND_TOPICS,
  InMemoryCommandStatusStore,
  InMemoryNotificationLog,
} from '@causeway/platform';
import { TrainerCommandsRegistrar } from './trainer-commands.registrar';
import { TrainerCommandHandler } from './trainer.command-handler';
import { type TrainerModuleOptions } from './trainer.module-options';

// The registrar on the in-memory command bus, as trainer-service runs it on Redis Streams: the
// deadline check is the bus's, so it behaves alike on every transport.

const factory = new MessageFactory();
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A move accepted `ageMs` ago, as command-api builds it. */
function move(ageMs: number, action: 'start' | 'stop' = 'start'): Envelope {
  const at = Date.now() - ageMs;
  return factory.command(
    'MoveTrainerCommand',
    { trainerId: 'ash', directionX: 1, directionY: 0, action, timestamp: at },
    {
      aggregateId: 'ash',
      aggregateType: 'Trainer',
      causedBy: null,
      metadata: { issuerId: 'ash', issuerType: 'user', timestamp: new Date(at).toISOString() },
    },
  );
}

/**
 * An event store that refuses every append while `down` (a store outage), and holds every
 * stream read until `gate` resolves (a process frozen mid-handling).
 */
class FailingEventStore extends InMemoryEventStore {
  down = false;
  gate: Promise<void> | undefined;
  override append(...args: Parameters<InMemoryEventStore['append']>) {
    if (this.down) return Promise.reject(new Error('event store down'));
    return super.append(...args);
  }
  override async readStream(...args: Parameters<InMemoryEventStore['readStream']>) {
    await this.gate;
    return super.readStream(...args);
  }
}

async function setup() {
  const serializer = contractsSerializer();
  const broker = new InMemoryBroker({ serializer, redeliveryDelayMs: 5 });
  const naming = topicNaming('expiry.', { commandTopics: COMMAND_TOPICS });
  const deadLetters = new InMemoryDeadLetterQueue();
  const bus = (service: string) => {
    const router = new Router({ subscriber: broker.subscriber(), service, instanceId: service });
    router.use(deadLetter({ queue: deadLetters }), retry({ maxAttempts: 3, initialDelayMs: 1 }));
    const commands = new CommandBus({
      publisher: broker,
      router,
      naming,
      serializer,
      instanceId: service,
      timeoutMs: 3_000,
    });
    return { router, commands };
  };
  const eventStore = new FailingEventStore({ serializer });
  const commandStatus = new InMemoryCommandStatusStore();
  const notifications = new InMemoryNotificationLog();
  const handler = new TrainerCommandHandler({
    serverId: 'trainer-1',
    eventStore,
    commandStatus,
    notifications,
    speed: 100,
    snapshotEvery: 0,
  });
  const trainer = bus('trainer-service');
  new TrainerCommandsRegistrar(
    trainer.commands,
    handler,
    { drainOwnCommandTopics: false } as TrainerModuleOptions,
    { promise: Promise.resolve() },
  ).onModuleInit();
  await wait(0); // registers once ready
  const api = bus('command-api');
  await Promise.all([trainer.router.run(), api.router.run()]);
  const close = () => Promise.all([trainer.router.close(), api.router.close()]);
  return { api, broker, eventStore, commandStatus, notifications, deadLetters, close };
}

describe('TrainerCommandsRegistrar: expired commands', () => {
  it('rejects a move that expired before it was handled, tells its issuer, and never moves the trainer', async () => {
    const { api, eventStore, commandStatus, notifications, deadLetters, close } = await setup();
    // Accepted 61 s ago with command-api's default COMMAND_DEADLINE_MS: the bus was stalled.
    const command = move(61_000);
    const error = await api.commands
      .request(command, { deadlineMs: 60_000 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandExpiredError);
    const reason = 'expired: not handled within 60000 ms of being accepted';
    expect(await commandStatus.get(command.messageId)).toMatchObject({
      status: 'rejected',
      reason,
      type: 'MoveTrainerCommand',
      issuerId: 'ash',
    });
    const logged = await notifications.read(undefined, 10);
    expect(logged.map((entry) => entry.notification)).toEqual([
      {
        notificationId: `command-result:${command.messageId}`,
        targetType: 'user',
        targetIds: ['ash'],
        method: 'command.result',
        params: { commandId: command.messageId, status: 'rejected', reason },
        serverId: 'trainer-1',
      },
    ]);
    expect(await eventStore.readStream('trainer-ash')).toEqual([]);
    expect(await deadLetters.list()).toEqual([]);
    // A move within its deadline still moves the trainer.
    const fresh = move(0);
    await expect(api.commands.request(fresh, { deadlineMs: 60_000 })).resolves.toEqual({
      status: 'processed',
      version: 1,
    });
    expect(await eventStore.readStream('trainer-ash')).toHaveLength(1);
    await close();
  });

  it('records as processed, not expired, a redelivery of a move an earlier attempt applied before a crash', async () => {
    const { api, eventStore, commandStatus, close } = await setup();
    const command = move(61_000);
    // The first delivery appended the move's event, then its instance died before its status
    // and notification were written (here: they went to stores nobody reads).
    await new TrainerCommandHandler({
      serverId: 'trainer-2',
      eventStore,
      commandStatus: new InMemoryCommandStatusStore(),
      notifications: new InMemoryNotificationLog(),
      speed: 100,
      snapshotEvery: 0,
    }).handle(command);
    expect(await commandStatus.get(command.messageId)).toBeUndefined();
    await expect(api.commands.request(command, { deadlineMs: 60_000 })).resolves.toEqual({
      status: 'processed',
      version: 1,
    });
    expect(await commandStatus.get(command.messageId)).toMatchObject({ status: 'processed' });
    expect(await eventStore.readStream('trainer-ash')).toHaveLength(1);
    await close();
  });

  it('does not apply a later copy of an expired command id that arrives within a fresh deadline', async () => {
    const { api, eventStore, commandStatus, notifications, close } = await setup();
    // The first copy: written to the bus despite a 503, delivered late, expired.
    const first = move(61_000);
    await expect(api.commands.request(first, { deadlineMs: 60_000 })).rejects.toBeInstanceOf(
      CommandExpiredError,
    );
    // A retry of the request built anew (same id, a fresh timestamp, so a later deadline).
    const copy: Envelope = {
      ...first,
      metadata: { ...first.metadata, timestamp: new Date().toISOString() },
    };
    const reason = 'expired: not handled within 60000 ms of being accepted';
    const error = await api.commands.request(copy, { deadlineMs: 60_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandRejectedError);
    expect(error).not.toBeInstanceOf(CommandExpiredError);
    expect((error as Error).message).toContain(reason);
    expect(await eventStore.readStream('trainer-ash')).toEqual([]);
    expect(await commandStatus.get(first.messageId)).toMatchObject({ status: 'rejected', reason });
    const logged = await notifications.read(undefined, 10);
    expect(logged.map((entry) => entry.notification.params)).toEqual([
      { commandId: first.messageId, status: 'rejected', reason },
    ]);
    // Another move of the trainer still moves it.
    await expect(api.commands.request(move(0), { deadlineMs: 60_000 })).resolves.toEqual({
      status: 'processed',
      version: 1,
    });
    await close();
  });

  it('does not apply a move whose deadline passed while it was handled (an instance frozen mid-handling)', async () => {
    const { api, eventStore, commandStatus, deadLetters, close } = await setup();
    let thaw!: () => void;
    eventStore.gate = new Promise((resolve) => (thaw = resolve));
    const command = move(0);
    const answer = api.commands.request(command, { deadlineMs: 200 }).catch((e: unknown) => e);
    // The handler began within the deadline and waits in its load (the process is frozen)
    // until after it: meanwhile another instance could have recorded the move expired.
    await wait(300);
    eventStore.gate = undefined;
    thaw();
    const error = await answer;
    expect(error).toBeInstanceOf(CommandExpiredError);
    expect((error as Error).message).toContain('expired while it was handled');
    expect(await eventStore.readStream('trainer-ash')).toEqual([]);
    expect(await commandStatus.get(command.messageId)).toMatchObject({
      status: 'rejected',
      reason: 'expired: not handled within 200 ms of being accepted',
    });
    expect(await deadLetters.list()).toEqual([]);
    await close();
  });

  it('does not apply a dead-lettered move replayed after its deadline: it expires, and its status stays failed', async () => {
    const { api, broker, eventStore, commandStatus, notifications, deadLetters, close } =
      await setup();
    // The move fails for good within its deadline (the event store is down): dead-lettered.
    eventStore.down = true;
    const command = move(0);
    await expect(api.commands.request(command, { deadlineMs: 300 })).rejects.toBeInstanceOf(
      CommandRejectedError,
    );
    expect(await deadLetters.list()).toHaveLength(1);
    const failed = await commandStatus.get(command.messageId);
    expect(failed).toMatchObject({ status: 'rejected', reason: 'failed: event store down' });
    // The store is back; the operator replays the letter once the deadline has passed.
    eventStore.down = false;
    await wait(400);
    expect(await deadLetters.replay({}, broker)).toMatchObject({ replayed: 1, failures: 0 });
    const reason = 'expired: not handled within 300 ms of being accepted';
    for (let i = 0; i < 200; i++) {
      const logged = await notifications.read(undefined, 10);
      if (logged.length >= 2) break;
      await wait(10);
    }
    // Not applied: the bus refuses it as expired, acknowledged (not dead-lettered again).
    expect(await eventStore.readStream('trainer-ash')).toEqual([]);
    expect(await deadLetters.list()).toEqual([]);
    // The issuer is told it expired; the status keeps the first outcome (only `processed`
    // replaces a failure, CommandStatusStore).
    const logged = await notifications.read(undefined, 10);
    expect(logged.map((entry) => entry.notification.notificationId)).toEqual([
      `command-result:${command.messageId}:failed`,
      `command-result:${command.messageId}`,
    ]);
    expect(logged[1]!.notification.params).toEqual({
      commandId: command.messageId,
      status: 'rejected',
      reason,
    });
    expect(await commandStatus.get(command.messageId)).toEqual(failed);
    await close();
  });
});
