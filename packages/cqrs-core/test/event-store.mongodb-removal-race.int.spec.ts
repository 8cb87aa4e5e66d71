import { randomUUID } from 'node:crypto';
import { dyingAtStrip, removeNamespaceData, testNamespace } from '@causeway/testkit';
import { mongoConnection, MongoEventStore } from '../src/mongodb';
import { testEnvelope } from '../src/testing';

jest.setTimeout(240_000);

/**
 * Removals racing on one MongoDB stream (a review, session 36). A retention run read a commit,
 * a hard delete emptied it and wrote its tombstone, and the retention run then wrote back the
 * events it meant to keep: the stream was tombstoned and `readAll` returned those events for
 * good, since retention skipped tombstoned streams and a second hard delete did nothing.
 */
describe('MongoEventStore: removals racing a hard delete', () => {
  const ns = testNamespace('mongostrip');
  const connections = [
    mongoConnection({ uri: ns.mongoUri(), name: 'strip-a', maxPoolSize: 4 }),
    mongoConnection({ uri: ns.mongoUri(), name: 'strip-b', maxPoolSize: 4 }),
  ];
  let retention: MongoEventStore;
  let deleter: MongoEventStore;

  beforeAll(async () => {
    for (const connection of connections) await connection.open();
    retention = new MongoEventStore({ connection: connections[0]!.client });
    deleter = new MongoEventStore({ connection: connections[1]!.client });
    await retention.init();
    await deleter.init();
  });
  afterAll(async () => {
    for (const connection of connections) await connection.close();
    await removeNamespaceData(ns, ['mongodb']); // once nothing queries it (FerretDB, ADR 006)
  });

  async function visible(streamId: string, from: number): Promise<number[]> {
    const events = await retention.readAll({ fromPosition: from - 1 });
    return events.filter((e) => e.streamId === streamId).map((e) => e.version);
  }

  it('a retention run racing a hard delete never writes back events of the deleted stream', async () => {
    const leaked: string[] = [];
    for (let round = 0; round < 24; round++) {
      const stream = `race-${round}-${randomUUID()}`;
      const events = Array.from({ length: 20 }, () => testEnvelope('T', {}));
      const { positions } = await deleter.append(stream, events, { expectedVersion: 'no-stream' });
      await Promise.all([
        retention.applyRetention({ streamPrefix: stream, maxCount: 1 }),
        new Promise((resolve) => setTimeout(resolve, round % 8)).then(() =>
          deleter.deleteStream(stream, { mode: 'hard' }),
        ),
      ]);
      const left = await visible(stream, positions[0]!);
      if (left.length > 0) leaked.push(`${stream}: ${left.join(',')}`);
    }
    expect(leaked).toEqual([]);
  });

  it('events a hard delete left behind go at the next retention run, and when it is made again', async () => {
    const commits = connections[0]!.client.db!.collection('events_commits');
    for (const repair of ['retention', 'delete again'] as const) {
      const stream = `left-${repair.replace(' ', '-')}-${randomUUID()}`;
      const events = Array.from({ length: 5 }, () => testEnvelope('T', {}));
      const { positions } = await deleter.append(stream, events, { expectedVersion: 'no-stream' });
      const [commit] = await commits.find({ streamId: stream }).toArray();
      await deleter.deleteStream(stream, { mode: 'hard' });
      // A delete that stopped between its tombstone and its strip (or lost a race on FerretDB).
      await commits.updateOne(
        { _id: commit!._id },
        { $set: { events: commit!.events, messageIds: commit!.messageIds, types: commit!.types } },
      );
      expect(await visible(stream, positions[0]!)).toEqual([1, 2, 3, 4, 5]);
      if (repair === 'retention')
        // A policy that would keep them all on a live stream: a tombstoned one keeps none.
        expect(await retention.applyRetention({ streamPrefix: stream, maxCount: 100 })).toBe(5);
      else await deleter.deleteStream(stream, { mode: 'hard' });
      expect(await visible(stream, positions[0]!)).toEqual([]);
      expect((await retention.streamInfo(stream)).state).toBe('tombstoned');
    }
  });

  it('a hard delete killed before its strip is finished by the next retention run, whatever its policy', async () => {
    const stream = `killed-${randomUUID()}`;
    const events = Array.from({ length: 3 }, () => testEnvelope('T', {}));
    const { positions } = await deleter.append(stream, events, { expectedVersion: 'no-stream' });
    // The process dies as its delete strips the events: the tombstone and the stream's new
    // first version are written, the strip never reaches the server.
    const dying = new MongoEventStore({ connection: dyingAtStrip(connections[1]!.client) });
    await dying.init();
    await expect(dying.deleteStream(stream, { mode: 'hard' })).rejects.toThrow('killed');
    expect(await retention.readStream(stream)).toEqual([]);
    expect((await retention.streamInfo(stream)).state).toBe('tombstoned');
    expect(await visible(stream, positions[0]!)).toEqual([1, 2, 3]);

    // Another instance's retention, for other streams: the deleted stream's events go too.
    expect(await retention.applyRetention({ streamPrefix: `other-${randomUUID()}` })).toBe(3);
    expect(await visible(stream, positions[0]!)).toEqual([]);
    expect(await retention.applyRetention({ streamPrefix: `other-${randomUUID()}` })).toBe(0);
  });

  it.each(['retention', 'delete again'] as const)(
    'a hard delete killed before session 43, its mark keyed by its stream, is finished by %s',
    async (repair) => {
      // Session 43 gave each removal a mark of its own (a UUID `_id`, `streamId`); a deployment
      // upgraded from an earlier commit may hold a mark of a killed delete in the old form,
      // `_id` = the stream id and no `streamId`: its events must still leave readAll.
      const deletes = connections[0]!.client.db!.collection<{
        _id: string;
        streamId?: string;
        at: number;
      }>('events_deletes');
      const stream = `killed-before-43-${repair.replace(' ', '-')}-${randomUUID()}`;
      const events = Array.from({ length: 3 }, () => testEnvelope('T', {}));
      const { positions } = await deleter.append(stream, events, {
        expectedVersion: 'no-stream',
      });
      const dying = new MongoEventStore({ connection: dyingAtStrip(connections[1]!.client) });
      await dying.init();
      await expect(dying.deleteStream(stream, { mode: 'hard' })).rejects.toThrow('killed');
      // Its mark as an earlier commit wrote it.
      const [mark] = await deletes.find({ streamId: stream }).toArray();
      await deletes.deleteOne({ _id: mark!._id });
      await deletes.insertOne({ _id: stream, at: mark!.at });
      expect(await visible(stream, positions[0]!)).toEqual([1, 2, 3]);

      if (repair === 'retention')
        expect(await retention.applyRetention({ streamPrefix: `other-${randomUUID()}` })).toBe(3);
      else await deleter.deleteStream(stream, { mode: 'hard' });
      expect(await visible(stream, positions[0]!)).toEqual([]);
      expect(await deletes.countDocuments({ $or: [{ _id: stream }, { streamId: stream }] })).toBe(
        0,
      );
      expect((await retention.streamInfo(stream)).state).toBe('tombstoned');
    },
  );

  it('a killed hard delete is finished though more than a run of younger abandoned marks wait', async () => {
    // A review (session 42): a run looked at the first 100 marks only, and skipped those of
    // deletes that never wrote their tombstone while they were under 10 minutes old (they may
    // still run): 100 of them hid a killed delete's mark, whose events readAll kept returning.
    const deletes = connections[0]!.client.db!.collection<{ _id: string; at: number }>(
      'events_deletes',
    );
    const abandoned = Array.from({ length: 101 }, (_, i) => ({
      _id: `abandoned-${i}-${randomUUID()}`,
      at: Date.now(),
    }));
    await deletes.insertMany(abandoned);
    try {
      const stream = `killed-late-${randomUUID()}`;
      const events = Array.from({ length: 3 }, () => testEnvelope('T', {}));
      const { positions } = await deleter.append(stream, events, { expectedVersion: 'no-stream' });
      const dying = new MongoEventStore({ connection: dyingAtStrip(connections[1]!.client) });
      await dying.init();
      await expect(dying.deleteStream(stream, { mode: 'hard' })).rejects.toThrow('killed');
      expect(await visible(stream, positions[0]!)).toEqual([1, 2, 3]);

      expect(await retention.applyRetention({ streamPrefix: `other-${randomUUID()}` })).toBe(3);
      expect(await visible(stream, positions[0]!)).toEqual([]);
      // The young abandoned marks stay for a later run (their deletes may still be running).
      expect(await deletes.countDocuments({ _id: { $in: abandoned.map((m) => m._id) } })).toBe(101);
      // Their streams do not exist, and the run did not make them up (a stream document each).
      const streams = connections[0]!.client.db!.collection<{ _id: string }>('events_streams');
      expect(await streams.countDocuments({ _id: { $in: abandoned.map((m) => m._id) } })).toBe(0);
    } finally {
      await deletes.deleteMany({ _id: { $in: abandoned.map((m) => m._id) } });
    }
  });

  it('a hard delete ending leaves the mark of a truncate still under way on the stream', async () => {
    // A review (session 43): the marks were one per stream, and a hard delete removed the one
    // there when it ended. A truncate under way then had none: on FerretDB its strip can write
    // back events the delete stripped (its update is not atomic with its filter), and killed
    // before its next pass it left them in readAll for good, no retention run finding them.
    const commits = connections[0]!.client.db!.collection('events_commits');
    const stream = `truncating-${randomUUID()}`;
    const events = Array.from({ length: 3 }, () => testEnvelope('T', {}));
    const { positions } = await deleter.append(stream, events, { expectedVersion: 'no-stream' });
    const [commit] = await commits.find({ streamId: stream }).toArray();
    // The truncate is under way: it marked the stream and raised its first version, and its
    // strip has not reached the server yet (here: never, its process dies).
    const truncating = new MongoEventStore({ connection: dyingAtStrip(connections[1]!.client) });
    await truncating.init();
    await expect(truncating.truncateStream(stream, 3)).rejects.toThrow('killed');
    // Meanwhile a hard delete runs to its end.
    await deleter.deleteStream(stream, { mode: 'hard' });
    expect(await visible(stream, positions[0]!)).toEqual([]);
    // Then the truncate's strip lands, with the events it read before the delete's strip.
    await commits.updateOne(
      { _id: commit!._id },
      { $set: { events: commit!.events, messageIds: commit!.messageIds, types: commit!.types } },
    );
    expect(await visible(stream, positions[0]!)).toEqual([1, 2, 3]);

    // Another instance's retention, for other streams, finds them by the truncate's mark.
    expect(await retention.applyRetention({ streamPrefix: `other-${randomUUID()}` })).toBe(3);
    expect(await visible(stream, positions[0]!)).toEqual([]);
    expect((await retention.streamInfo(stream)).state).toBe('tombstoned');
  });

  it.each(['soft delete', 'truncate'] as const)(
    'a %s killed before its strip is finished by the next retention run, whatever its policy',
    async (removal) => {
      const stream = `killed-${removal.replace(' ', '-')}-${randomUUID()}`;
      const events = Array.from({ length: 3 }, () => testEnvelope('T', {}));
      const { positions } = await deleter.append(stream, events, {
        expectedVersion: 'no-stream',
      });
      // The process dies as it strips the events: the stream's new first version is written,
      // the strip never reaches the server.
      const dying = new MongoEventStore({ connection: dyingAtStrip(connections[1]!.client) });
      await dying.init();
      await expect(
        removal === 'truncate'
          ? dying.truncateStream(stream, 3)
          : dying.deleteStream(stream, { mode: 'soft' }),
      ).rejects.toThrow('killed');
      const hidden = removal === 'truncate' ? [1, 2] : [1, 2, 3];
      expect((await retention.readStream(stream)).map((e) => e.version)).toEqual(
        [1, 2, 3].filter((v) => !hidden.includes(v)),
      );
      expect(await visible(stream, positions[0]!)).toEqual([1, 2, 3]);
      // A review (session 42): the soft delete wrote its stream's new first version, then died
      // before it marked the stream soft-deleted, and streamInfo said 'active' for good.
      const state = removal === 'truncate' ? 'active' : 'soft-deleted';
      expect(await retention.streamInfo(stream)).toEqual({
        streamId: stream,
        version: 3,
        firstVersion: hidden.length + 1,
        state,
        // A truncate cut the stream's first events (session 49: told from a soft delete).
        ...(removal === 'truncate' ? { truncated: true } : {}),
      });

      // Another instance's retention, for other streams: the removed events go from readAll too.
      expect(await retention.applyRetention({ streamPrefix: `other-${randomUUID()}` })).toBe(
        hidden.length,
      );
      expect(await visible(stream, positions[0]!)).toEqual(
        [1, 2, 3].filter((v) => !hidden.includes(v)),
      );
      expect(await retention.applyRetention({ streamPrefix: `other-${randomUUID()}` })).toBe(0);
      expect((await retention.streamInfo(stream)).state).toBe(state);
      // Versions go on after the removed events, as after a soft delete or truncate that ended.
      const expectedVersion = removal === 'truncate' ? 3 : 'no-stream';
      await deleter.append(stream, [testEnvelope('T', {})], { expectedVersion });
      expect(await retention.streamInfo(stream)).toMatchObject({ version: 4, state: 'active' });
    },
  );
});

describe('MongoEventStore: a removal marking a stream a hard delete marked in the same millisecond', () => {
  const ns = testNamespace('mongomark');
  const connection = mongoConnection({ uri: ns.mongoUri(), name: 'mark-a', maxPoolSize: 4 });
  let store: MongoEventStore;

  beforeAll(async () => {
    await connection.open();
    store = new MongoEventStore({ connection: connection.client });
    await store.init();
  });
  afterAll(async () => {
    // Closed first: a database dropped under a client still using it crashed FerretDB.
    await connection.close();
    await removeNamespaceData(ns, ['mongodb']);
  });

  afterEach(() => jest.useRealTimers());

  it.each(['soft delete', 'truncate'] as const)(
    'a %s made in that millisecond leaves the hard delete its mark',
    async (removal) => {
      // A review (session 42): a removal unmarked the stream by the time it began, so one made
      // in the millisecond a hard delete marked it took the delete's mark away; that delete,
      // killed after its tombstone, then left its events in readAll for good.
      const deletes = connection.client.db!.collection<{ _id: string; at: number }>(
        'events_deletes',
      );
      const stream = `same-ms-${removal.replace(' ', '-')}-${randomUUID()}`;
      await store.append(
        stream,
        Array.from({ length: 3 }, () => testEnvelope('T', {})),
        { expectedVersion: 'no-stream' },
      );
      // The hard delete's first step, as deleteStream writes it; the clock then stands still
      // (only Date: the driver's timers run) so that the removal begins in the same millisecond.
      const at = Date.now();
      await deletes.insertOne({ _id: stream, at });
      jest.useFakeTimers({
        now: at,
        doNotFake: [
          'hrtime',
          'nextTick',
          'performance',
          'queueMicrotask',
          'setImmediate',
          'clearImmediate',
          'setInterval',
          'clearInterval',
          'setTimeout',
          'clearTimeout',
        ],
      });
      if (removal === 'truncate') await store.truncateStream(stream, 2);
      else await store.deleteStream(stream, { mode: 'soft' });
      jest.useRealTimers();
      expect(await deletes.findOne({ _id: stream })).toEqual({ _id: stream, at });
    },
  );
});
