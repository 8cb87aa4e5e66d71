import {
  CommandBus,
  ConcurrencyConflictError,
  DocumentStore,
  EventBus,
  EventForwarder,
  InMemoryBroker,
  InMemoryCheckpointStore,
  isRejectedWith,
  MessageFactory,
  Router,
  topicNaming,
} from '@causeway/cqrs-core';
import { openBackend } from '../shared/example.backend';
import { type ExampleOptions, type ExampleReport } from '../shared/example.options';
import { Transcript } from '../shared/example.transcript';
import {
  ChangeEmail,
  CreateUser,
  UnknownUserError,
  UserEmailChanged,
  UserExistsError,
  users,
  usersSerializer,
} from './users.documents';

export interface DocumentsReport extends ExampleReport {
  /** What the event handlers saw, in order: `<type> <id>`. */
  readonly notified: readonly string[];
  /** Every event type stored for misty, in stream order. */
  readonly mistyHistory: readonly string[];
  /** The reply of a second CreateUser for an id that exists. */
  readonly duplicate: string;
  readonly final: { version: number; document: unknown } | undefined;
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * SPEC S4: event-sourced documents. Command handlers write users as documents (optimistic
 * concurrency on their version); every change is stored with its events in one append; an
 * outbox forwarder publishes them; event handlers react (a welcome, an email check).
 */
export async function run(options: ExampleOptions = {}): Promise<DocumentsReport> {
  const out = new Transcript(options.print);
  const backend = await openBackend('06-documents', options);
  const serializer = usersSerializer();
  const broker = new InMemoryBroker({ serializer }); // the same code on Redis Streams or Kafka
  const naming = topicNaming('users-example.');
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
  let forwarder: EventForwarder | undefined;
  try {
    out.step(`1. Documents stored as events in: ${backend.kind} (${backend.where})`);
    const eventStore = await backend.eventStore({ serializer });
    const documents = new DocumentStore({ eventStore });

    // Command handlers: write the document; expectedVersion 0 = only if it does not exist.
    // A conflict there is the answer (the user exists): a DomainError, refused at once, where
    // a plain error would be delivered again.
    commands.handle(CreateUser, async (command) => {
      const write = await documents
        .update(users, command.aggregateId, () => command.data, {
          expectedVersion: 0,
          commandId: command.messageId, // a redelivered CreateUser writes nothing
        })
        .catch((error: unknown) => {
          throw error instanceof ConcurrencyConflictError
            ? new UserExistsError(command.aggregateId)
            : error;
        });
      return { version: write.version };
    });
    commands.handle(ChangeEmail, async (command) => {
      const write = await documents.update(users, command.aggregateId, (user) => {
        if (!user) throw new UnknownUserError(command.aggregateId);
        return { ...user, email: command.data.email };
      });
      return { version: write.version, events: write.events.map((event) => event.type) };
    });

    // Event handlers: they see the documents' events through the bus.
    const notified: string[] = [];
    events.on(
      users.created,
      (event) => void notified.push(`welcome ${users.idOf(event.aggregateId)}`),
      {
        name: 'welcome',
      },
    );
    events.on(UserEmailChanged, (event) => void notified.push(`verify ${event.data.email}`), {
      name: 'verify-email',
    });
    await router.run();
    forwarder = new EventForwarder({
      store: eventStore,
      publisher: broker,
      checkpoints: new InMemoryCheckpointStore(),
      topicOf: (event) => naming.event(event.type),
      pollIntervalMs: 20,
    });
    forwarder.start();

    const messages = new MessageFactory();
    const create = (id: string, name: string, email: string) =>
      commands.request<{ version: number }>(
        messages.command(CreateUser, { name, email }, { aggregateId: id }),
      );
    const misty = 'misty';
    const created = await create(misty, 'Misty', 'misty@cerulean.gym');
    out.step(`2. CreateUser ${misty}: stored at version ${created.version}`);
    const duplicate = await create(misty, 'Impostor', 'imp@nowhere.org').then(
      () => 'accepted (wrong)',
      (error: unknown) =>
        isRejectedWith(error, UserExistsError) ? `${error.code}: ${error.message}` : String(error),
    );
    out.step(`3. CreateUser ${misty} again: refused — ${duplicate}`);

    const changed = await commands.request<{ version: number; events: string[] }>(
      messages.command(ChangeEmail, { email: 'misty@league.org' }, { aggregateId: misty }),
    );
    out.step(`4. ChangeEmail: version ${changed.version}, events ${changed.events.join(' + ')}`);

    // Two writers read version 3 and write at once: one wins, the other reads again and retries.
    await Promise.all([
      documents.update(users, misty, (user) => ({ ...user!, name: 'Misty W.' })),
      documents.update(users, misty, (user) => ({ ...user!, email: 'misty@gym.org' })),
    ]);
    const both = await documents.get(users, misty);
    const stale = await documents
      .update(users, misty, (user) => ({ ...user!, name: 'Stale' }), { expectedVersion: 3 })
      .catch((error: unknown) => error);
    out.step(
      `5. Two writers at once (name, email): both kept, version ${both?.version}; a write ` +
        `based on version 3 is refused: ${
          stale instanceof ConcurrencyConflictError
            ? `the document is at v${stale.actual}`
            : 'NOT refused (wrong)'
        }`,
    );

    const deadline = Date.now() + 10_000;
    while (notified.length < 3 && Date.now() < deadline) await wait(10);
    out.step(`6. Event handlers saw: ${[...notified].sort().join(', ')}`);

    const final = await documents.get(users, misty);
    out.step(`7. ${misty} now: ${JSON.stringify(final?.document)} at version ${final?.version}`);
    const mistyHistory = (await eventStore.readStream(users.streamIdOf(misty))).map(
      (event) => event.type,
    );
    out.step(`8. Its stream: ${mistyHistory.length} events, ${mistyHistory.join(', ')}`);
    return {
      store: backend.kind,
      lines: out.lines,
      notified,
      mistyHistory,
      duplicate,
      final: final && { version: final.version, document: final.document },
    };
  } finally {
    await forwarder?.stop();
    await router.close();
    commands.close();
    await backend.close();
  }
}
