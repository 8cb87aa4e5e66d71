import {
  CommandBus,
  CommandRejectedError,
  ConcurrencyConflictError,
  DocumentStore,
  documentProjection,
  DomainError,
  documentCollection,
  EventBus,
  EventForwarder,
  InMemoryBroker,
  InMemoryCheckpointStore,
  InMemoryEventStore,
  InMemoryReadStore,
  MessageFactory,
  messageType,
  ProjectionRunner,
  Router,
  SerializerRegistry,
  topicNaming,
} from '@causeway/cqrs-core';
import { z } from 'zod';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(done: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 5_000; !done(); await wait(5))
    if (Date.now() > deadline) throw new Error('timed out');
}

// #region guide:document-collection
const UserEmailChanged = messageType('UserEmailChanged', z.object({ email: z.string() }));

const users = documentCollection('users', {
  aggregateType: 'User', // events UserCreated, UserUpdated, UserDeleted; streams users-<id>
  schema: z.object({ name: z.string().min(1), email: z.email() }), // checked on every write
  // More events for a change, appended with it (S4-3):
  events: ({ diff }) =>
    !diff.isNew && typeof diff.mergePatch.email === 'string'
      ? [UserEmailChanged.of({ email: diff.mergePatch.email })]
      : [],
});
// #endregion

describe('guide: documents', () => {
  it('updates, reads and deletes event-sourced documents', async () => {
    // #region guide:documents
    const documents = new DocumentStore({ eventStore: new InMemoryEventStore() }); // any store

    await documents.update(users, 'ash', () => ({ name: 'Ash', email: 'ash@pallet.town' }));
    const changed = await documents.update(users, 'ash', (user) => {
      user!.email = 'ash@league.org'; // a copy: mutate it, or return a new document
      return user!;
    });
    // changed.version: 3; changed.diff: { isNew: false, isDeleted: false, hasChanges: true,
    //   mergePatch: { email: 'ash@league.org' } }
    // changed.events: UserUpdated { patch: { email: … } }, UserEmailChanged { email: … }

    const stored = await documents.get(users, 'ash');
    // { id: 'ash', version: 3, document: { name: 'Ash', email: 'ash@league.org' } }

    // If-Match: a write based on version 1 is refused; nothing is retried or written.
    const stale = await documents
      .update(users, 'ash', (user) => ({ ...user!, name: 'Red' }), { expectedVersion: 1 })
      .catch((error: unknown) => error); // ConcurrencyConflictError, expected 1, actual 3

    await documents.delete(users, 'ash'); // UserDeleted; get() answers undefined
    // #endregion
    expect(changed.version).toBe(3);
    expect(changed.diff).toEqual({
      isNew: false,
      isDeleted: false,
      hasChanges: true,
      mergePatch: { email: 'ash@league.org' },
    });
    expect(changed.events.map((event) => event.type)).toEqual(['UserUpdated', 'UserEmailChanged']);
    expect(stored).toEqual({
      id: 'ash',
      version: 3,
      document: { name: 'Ash', email: 'ash@league.org' },
    });
    expect(stale).toBeInstanceOf(ConcurrencyConflictError);
    expect(stale).toMatchObject({ expected: 1, actual: 3 });
    await expect(documents.get(users, 'ash')).resolves.toBeUndefined();
  });

  it('handles CreateUser with a document and welcomes the user on UserCreated (S4-6)', async () => {
    // #region guide:documents-commands
    const CreateUser = messageType('CreateUser', z.object({ name: z.string(), email: z.string() }));
    const serializer = new SerializerRegistry().register(CreateUser).register(UserEmailChanged);
    for (const type of users.messageTypes) serializer.register(type);

    const broker = new InMemoryBroker({ serializer }); // or Redis Streams / Kafka
    const eventStore = new InMemoryEventStore({ serializer }); // or MongoDB / Redis
    const documents = new DocumentStore({ eventStore });
    const naming = topicNaming('app.');
    const router = new Router({
      subscriber: broker.subscriber(),
      service: 'users',
      instanceId: 'u1',
    });
    const commands = new CommandBus({
      publisher: broker,
      router,
      naming,
      serializer,
      instanceId: 'u1',
    });
    const events = new EventBus({ publisher: broker, router, naming });

    // The command handler writes the document; expectedVersion 0: only if it does not exist.
    commands.handle(CreateUser, async (command) => {
      const write = await documents
        .update(users, command.aggregateId, () => command.data, {
          expectedVersion: 0,
          commandId: command.messageId, // a redelivered CreateUser writes nothing
        })
        .catch((error: unknown) => {
          // The user exists: refuse (a DomainError reaches the sender), never redeliver.
          if (error instanceof ConcurrencyConflictError)
            throw new DomainError(`user ${command.aggregateId} exists`, { code: 'user-exists' });
          throw error;
        });
      return { version: write.version };
    });
    // The document's events reach the bus through the outbox forwarder, at least once.
    const forwarder = new EventForwarder({
      store: eventStore,
      publisher: broker,
      checkpoints: new InMemoryCheckpointStore(),
      topicOf: (event) => naming.event(event.type),
    });
    const welcomed: string[] = [];
    events.on(users.created, (event) => void welcomed.push(users.idOf(event.aggregateId)!), {
      name: 'welcome',
    });
    await router.run();
    forwarder.start();

    const messages = new MessageFactory();
    const email = 'misty@cerulean.gym';
    const create = (name: string) =>
      commands.request(messages.command(CreateUser, { name, email }, { aggregateId: 'misty' }));
    const reply = await create('Misty'); // { version: 1 }; soon welcomed: ['misty']
    const again = await create('Impostor').catch((error: unknown) => error);
    // again: a CommandRejectedError, code 'user-exists'
    // #endregion
    await until(() => welcomed.length > 0);
    expect(reply).toEqual({ version: 1 });
    expect(welcomed).toEqual(['misty']);
    expect(again).toBeInstanceOf(CommandRejectedError);
    expect(again).toMatchObject({ code: 'user-exists', message: 'user misty exists' });
    await forwarder.stop();
    await router.close();
    commands.close();
  });
  it('keeps a queryable row per document with documentProjection', async () => {
    const eventStore = new InMemoryEventStore();
    const documents = new DocumentStore({ eventStore });
    await documents.update(users, 'ash', () => ({ name: 'Ash', email: 'ash@pallet.town' }));
    await documents.update(users, 'gary', () => ({ name: 'Gary', email: 'gary@pallet.town' }));
    await documents.update(users, 'misty', () => ({ name: 'Misty', email: 'misty@cerulean.gym' }));
    // #region guide:documents-projection
    // Or MongoReadStore / RedisReadStore (with indexes on the fields you query).
    const rows = new InMemoryReadStore<{ name: string; email: string }>();
    const projections = new ProjectionRunner({
      eventStore,
      checkpoints: new InMemoryCheckpointStore(),
    });
    projections.start(documentProjection(users, rows)); // named 'documents-users'
    await projections.whenCaughtUp();

    const write = await documents.update(users, 'gary', (user) => ({
      ...user!,
      email: 'gary@oak.lab',
    }));
    await projections.waitFor(write.positions.at(-1)!); // read your own write
    await documents.delete(users, 'misty');

    const pallet = await rows.find({ where: { email: 'ash@pallet.town' } }); // [{ name: 'Ash', … }]
    // #endregion
    const deleted = await documents.get(users, 'misty');
    await projections.waitFor((await eventStore.readAll({ limit: 1000 })).at(-1)!.position);
    expect(pallet).toEqual([{ name: 'Ash', email: 'ash@pallet.town' }]);
    expect(await rows.get('gary')).toEqual({ name: 'Gary', email: 'gary@oak.lab' });
    expect(deleted).toBeUndefined();
    expect(await rows.get('misty')).toBeUndefined();
    expect(await rows.count()).toBe(2);
    await projections.stop();
  });
});
