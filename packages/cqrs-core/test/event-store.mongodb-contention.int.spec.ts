import { testNamespace } from '@causeway/testkit';
import { ConcurrencyConflictError } from '../src';
import { mongoConnection, MongoEventStore } from '../src/mongodb';
import { testEnvelope } from '../src/testing';

// Contention on one stream within one MongoEventStore (FerretDB locally). Appends to one stream
// take turns in the instance, and one whose expected version is below the head the instance
// knows reads (one query) instead of inserting: before, each loser's insert was refused by the
// commit log, which on FerretDB cannot tell a taken version from a taken slot and tried 8 more
// slots and a read first, ~60 ms per loser with the group-commit queue held up behind it
// (docs/adr/003, addendum of session 28). Each test counts the commands the store sent.
describe('MongoEventStore under contention on one stream', () => {
  const ns = testNamespace('esmongoload');
  const connection = mongoConnection({
    uri: ns.mongoUri(),
    name: 'es-contention',
    options: { monitorCommands: true },
  });
  const sent: string[] = [];
  let store: MongoEventStore;

  beforeAll(async () => {
    await connection.open();
    connection.client
      .getClient()
      .on('commandStarted', (e) =>
        sent.push(`${e.commandName} ${String(e.command[e.commandName])}`),
      );
    store = new MongoEventStore({ connection: connection.client });
    await store.init();
  });
  afterAll(async () => {
    await connection.client.db!.dropDatabase();
    await connection.close();
  });

  it('lets one of 20 appends at one expected version win with one insert; the losers only read', async () => {
    const streamId = 'same-version';
    await store.append(streamId, [testEnvelope('E', 0)], { expectedVersion: 'no-stream' });
    const events = Array.from({ length: 20 }, (_, i) => testEnvelope('E', i + 1));
    sent.length = 0;
    const outcomes = await Promise.allSettled(
      events.map((event) => store.append(streamId, [event], { expectedVersion: 1 })),
    );
    const losers = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
    expect(losers).toHaveLength(19);
    for (const loser of losers) {
      expect(loser).toBeInstanceOf(ConcurrencyConflictError);
      expect(loser).toMatchObject({ streamId, expected: 1, actual: 2 });
    }
    // Before: ~170 inserts (each loser's refused in its group, then at 8 more slots) and ~150
    // reads of the beacon, one after the other in the commit log's queue.
    expect(sent.filter((c) => c === 'insert events_commits')).toHaveLength(1);
    expect(sent.filter((c) => c.startsWith('find')).length).toBeLessThanOrEqual(19);

    // A retry of the winner's append (the same events at the version it expected), concurrent
    // with a loser's: a re-append that succeeds, and a conflict.
    const winner = events[outcomes.findIndex((o) => o.status === 'fulfilled')]!;
    const loser = events[outcomes.findIndex((o) => o.status === 'rejected')]!;
    const again = await Promise.allSettled([
      store.append(streamId, [winner], { expectedVersion: 1 }),
      store.append(streamId, [loser], { expectedVersion: 1 }),
      store.append(streamId, [winner], { expectedVersion: 0 }),
    ]);
    expect(again.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(again[0]).toEqual({
      status: 'fulfilled',
      value: { nextExpectedVersion: 2, positions: [] },
    });
    expect((await store.readStream(streamId)).map((e) => e.data)).toEqual([0, winner.data]);
    // The next append at the head goes through, and a tombstone still wins over a conflict.
    await store.append(streamId, [testEnvelope('E', 'next')], { expectedVersion: 2 });
    await store.deleteStream(streamId, { mode: 'hard' });
    await expect(
      store.append(streamId, [testEnvelope('E', 'late')], { expectedVersion: 1 }),
    ).rejects.toThrow(/deleted/i);
  });
});
