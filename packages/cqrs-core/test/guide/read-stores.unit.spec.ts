import {
  InMemoryCheckpointStore,
  InMemoryEventStore,
  InMemoryReadStore,
  MessageFactory,
  messageType,
  type Projection,
  ProjectionRunner,
} from '@causeway/cqrs-core';
import { z } from 'zod';

const messages = new MessageFactory();
const TrainerMoved = messageType(
  'TrainerMoved',
  z.object({ x: z.number(), y: z.number(), zone: z.string() }),
);
const moved = (trainerId: string, x: number, zone: string) =>
  messages.event(
    TrainerMoved,
    { x, y: 0, zone },
    { aggregateId: trainerId, aggregateType: 'Trainer' },
  );

describe('guide: read stores', () => {
  it('keeps a row per stream, written with the event version, and queries it', async () => {
    const store = new InMemoryEventStore();
    await store.append('trainer-ash', [moved('ash', 1, 'kanto'), moved('ash', 2, 'kanto')], {
      expectedVersion: 'no-stream',
    });
    await store.append('trainer-misty', [moved('misty', 5, 'kanto')], {
      expectedVersion: 'no-stream',
    });
    await store.append('trainer-may', [moved('may', 9, 'hoenn')], { expectedVersion: 'no-stream' });
    // #region guide:read-store
    type Position = { trainerId: string; x: number; y: number; zone: string };
    // Or MongoReadStore({ connection, collection: 'trainer-positions', indexes: [['zone']] })
    // or RedisReadStore({ client, keyPrefix: 'app:trainer-positions:', indexed: ['zone'] }).
    const positions = new InMemoryReadStore<Position>();
    await positions.init();

    const projection: Projection = {
      name: 'trainer-positions',
      types: [TrainerMoved],
      async apply(event) {
        if (!TrainerMoved.is(event)) return;
        // Written only when newer than the stored row: a redelivered event changes nothing.
        await positions.put(
          event.streamId,
          { trainerId: event.streamId, ...event.data },
          { version: event.version },
        );
      },
      reset: () => positions.clear(), // for projections.rebuild()
    };
    const projections = new ProjectionRunner({
      eventStore: store,
      checkpoints: new InMemoryCheckpointStore(),
    });
    projections.start(projection);
    await projections.whenCaughtUp();

    const inKanto = await positions.find({
      where: { zone: 'kanto' }, // or { zone: { in: ['kanto', 'johto'] } }
      orderBy: { field: 'x', direction: 'desc' },
      limit: 10,
    });
    const perZone = await positions.countBy('zone'); // [{ value: 'hoenn', count: 1 }, …]
    // Page by page: `next` is the cursor after a page's last row (absent after the last page).
    // Unlike offset, rows put or deleted meanwhile make no other row skip or repeat.
    const byZone: Position[] = [];
    let after: string | undefined;
    do {
      const page = await positions.findPage({ orderBy: { field: 'zone' }, limit: 2, after });
      byZone.push(...page.rows);
      after = page.next;
    } while (after);
    // #endregion
    expect(inKanto).toEqual([
      { trainerId: 'trainer-misty', x: 5, y: 0, zone: 'kanto' },
      { trainerId: 'trainer-ash', x: 2, y: 0, zone: 'kanto' },
    ]);
    expect(byZone.map((row) => row.trainerId)).toEqual([
      'trainer-may',
      'trainer-ash',
      'trainer-misty',
    ]);
    expect(perZone).toEqual([
      { value: 'hoenn', count: 1 },
      { value: 'kanto', count: 2 },
    ]);
    // A redelivery of Ash's first move (version 1) leaves the row at version 2.
    await expect(
      positions.put(
        'trainer-ash',
        { trainerId: 'trainer-ash', x: 1, y: 0, zone: 'kanto' },
        {
          version: 1,
        },
      ),
    ).resolves.toBe(false);
    await expect(positions.get('trainer-ash')).resolves.toMatchObject({ x: 2 });
    // A rebuild empties the store (reset) before it replays the log: a stale row goes.
    await positions.put('trainer-gone', { trainerId: 'trainer-gone', x: 0, y: 0, zone: 'kanto' });
    await projections.rebuild('trainer-positions');
    await projections.whenCaughtUp();
    await expect(positions.count()).resolves.toBe(3);
    await expect(positions.get('trainer-gone')).resolves.toBeUndefined();
    await projections.stop();
  });
});
