import {
  InMemoryCheckpointStore,
  InMemoryEventStore,
  MessageFactory,
  type ReadAllOptions,
} from '@causeway/cqrs-core';
import { contractsSerializer } from '@causeway/contracts';
import { InMemoryGroupMembers, InMemoryTrainerPositions } from '@causeway/platform';
import { ReadModelsCatchUp } from './read-models.catch-up';
import { ReadModelsProjector } from './read-models.projector';

const factory = new MessageFactory();
const still = { isMoving: false, direction: { x: 0, y: 0 }, speed: 0, startedAt: 0 };
const moved = (trainerId: string, x: number) =>
  factory.event('TrainerMovedEvent', {
    trainerId,
    position: { x, y: 0 },
    movement: still,
    timestamp: 1_800_000_000_000,
  });

describe('ReadModelsCatchUp', () => {
  it('stops at the first batch that is not full, and the next run takes what came meanwhile', async () => {
    const reads: number[] = [];
    class CountingStore extends InMemoryEventStore {
      override async readAll(options?: ReadAllOptions) {
        const events = await super.readAll(options);
        reads.push(events.length);
        // Under a steady load, each read finds a new event appended while it ran.
        await this.append('trainer-late', [moved('late', reads.length)], {
          expectedVersion: 'any',
        });
        return events;
      }
    }
    const eventStore = new CountingStore({ serializer: contractsSerializer() });
    for (let x = 1; x <= 5; x++)
      await eventStore.append('trainer-ash', [moved('ash', x)], { expectedVersion: 'any' });
    const positions = new InMemoryTrainerPositions();
    const catchUp = new ReadModelsCatchUp({
      eventStore,
      checkpoints: new InMemoryCheckpointStore(),
      projector: new ReadModelsProjector(positions, new InMemoryGroupMembers()),
      name: 'test',
      batchSize: 2,
    });
    // 5 events in batches of 2: 2, 2, then 2 again (one arrived during the reads) … until a read
    // returns less than a batch. It ends although every read finds something new.
    const total = await catchUp.run();
    expect(reads.at(-1)).toBeLessThan(2);
    expect(reads.slice(0, -1).every((n) => n === 2)).toBe(true);
    expect(total).toBe(reads.reduce((sum, n) => sum + n, 0));
    expect(await positions.get('ash')).toMatchObject({ x: 5, version: 5 });
    await catchUp.run();
    expect((await positions.get('late'))?.version).toBeGreaterThan(1);
  });
});
