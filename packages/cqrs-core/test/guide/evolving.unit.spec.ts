import {
  EventBus,
  InMemoryBroker,
  InMemoryEventStore,
  JsonSerializer,
  MessageFactory,
  messageType,
  Router,
  SerializerRegistry,
  topicNaming,
  UnsupportedSchemaVersionError,
} from '@causeway/cqrs-core';
import { z } from 'zod';
import { account } from './account.domain';

const messages = new MessageFactory();

describe('guide: evolving a schema', () => {
  it('upcasts on read only through a SerializerRegistry given to the store', async () => {
    // #region guide:evolving
    const AccountOpened = messageType(
      'AccountOpened',
      z.object({ owner: z.string(), currency: z.string() }),
      { version: 2 },
    );
    const serializer = new SerializerRegistry()
      .register(AccountOpened)
      // v1 had no currency: every account opened before v2 was in euros.
      .upcaster(AccountOpened, 1, (data) => ({ ...(data as object), currency: 'EUR' }));
    serializer.assertUpcastersComplete(); // at start-up: a missing step fails the deploy

    // Without `serializer` a store uses JsonSerializer: no validation, no upcasting.
    const store = new InMemoryEventStore({ serializer }); // MongoEventStore, RedisEventStore too
    const broker = new InMemoryBroker({ serializer }); // transports: `serializer` is required
    // #endregion
    const old = messages.event(
      'AccountOpened',
      { owner: 'ada' },
      { aggregateId: 'acc-1', schemaVersion: 1 },
    );
    // Written by the previous release, in the same storage: JSON as it was, claiming v1.
    await new InMemoryEventStore({ storage: store.storage }).append('account-acc-1', [old], {
      expectedVersion: 'no-stream',
    });
    const opened = messages.event(
      AccountOpened,
      { owner: 'bob', currency: 'USD' },
      { aggregateId: 'acc-2' },
    );
    expect(opened.metadata.schemaVersion).toBe(2);
    await store.append('account-acc-2', [opened], { expectedVersion: 'no-stream' });
    expect((await store.readStream('account-acc-1'))[0]?.data).toEqual({
      owner: 'ada',
      currency: 'EUR',
    });
    expect((await store.readStream('account-acc-2'))[0]?.data).toEqual({
      owner: 'bob',
      currency: 'USD',
    });

    // An instance of the previous release knows v1 only: it refuses v2, on read and on write.
    const previous = new SerializerRegistry().register(
      'AccountOpened',
      z.object({ owner: z.string() }),
    );
    const wire = serializer.serialize(opened);
    expect(() => previous.deserialize(wire)).toThrow(UnsupportedSchemaVersionError);
    expect(() => previous.serialize(opened)).toThrow(UnsupportedSchemaVersionError);
    // A JsonSerializer keeps what the envelope claims.
    expect(new JsonSerializer().serialize(opened).metadata.schemaVersion).toBe(2);
    await broker.close();
  });

  it('reads a renamed type under its new name, from the store and from the old topic', async () => {
    const seen: [string, unknown][] = [];
    // #region guide:renaming
    // Release 1 called it BadgeWon; release 2 calls it BadgeEarned.
    const BadgeEarned = messageType('BadgeEarned', z.object({ badge: z.string() }));
    const serializer = new SerializerRegistry()
      .register(BadgeEarned)
      .formerNames(BadgeEarned, 'BadgeWon');
    const store = new InMemoryEventStore({ serializer }); // reads BadgeWon as BadgeEarned
    const broker = new InMemoryBroker({ serializer });
    const router = new Router({
      subscriber: broker.subscriber(),
      service: 'league',
      instanceId: 'l1',
    });
    // With the registry, a handler of BadgeEarned also takes BadgeWon's topic, where release 1
    // still publishes; the CommandBus does the same for commands (it always has the registry).
    const naming = topicNaming('league.');
    const events = new EventBus({ publisher: broker, router, naming, serializer });
    events.on(BadgeEarned, (event) => void seen.push([event.type, event.data]), {
      name: 'hall-of-fame',
    });
    // #endregion
    await router.run();
    // Stored and published by release 1, under the old name.
    const won = messages.event('BadgeWon', { badge: 'Boulder' }, { aggregateId: 'ash' });
    await new InMemoryEventStore({ storage: store.storage }).append('trainer-ash', [won], {
      expectedVersion: 'no-stream',
    });
    await events.publish([won]);
    await events.publish([
      messages.event(BadgeEarned, { badge: 'Cascade' }, { aggregateId: 'ash' }),
    ]);
    const read = await store.readAll({ types: [BadgeEarned.type] });
    expect(read.map((e) => [e.type, e.data])).toEqual([['BadgeEarned', { badge: 'Boulder' }]]);
    for (const deadline = Date.now() + 5_000; seen.length < 2;) {
      if (Date.now() > deadline) throw new Error(`timed out; seen ${JSON.stringify(seen)}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(seen).toEqual(
      expect.arrayContaining([
        ['BadgeEarned', { badge: 'Boulder' }],
        ['BadgeEarned', { badge: 'Cascade' }],
      ]),
    );
    await router.close();
    await broker.close();
  });

  it('the decider keeps the state at an event type it does not know', () => {
    const newer = { type: 'AccountFrozen', data: {} } as unknown as Parameters<
      typeof account.evolve
    >[1];
    const opened = account.evolve(account.initialState(), {
      type: 'AccountOpened',
      data: { owner: 'ash' },
    });
    expect(account.evolve(opened, newer)).toBe(opened);
  });
});
