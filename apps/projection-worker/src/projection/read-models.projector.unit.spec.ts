import { MessageFactory } from '@causeway/cqrs-core';
import { InMemoryGroupMembers, InMemoryTrainerPositions } from '@causeway/platform';
import { ReadModelsProjector } from './read-models.projector';

const factory = new MessageFactory();
const still = { isMoving: false, direction: { x: 0, y: 0 }, speed: 0, startedAt: 0 };
const moved = (trainerId: string, x: number, version: number) => ({
  ...factory.event('TrainerMovedEvent', {
    trainerId,
    position: { x, y: 0 },
    movement: still,
    timestamp: 1,
  }),
  version,
});

describe('ReadModelsProjector', () => {
  it('answers events at or below a version it knows the read model holds without reading it', async () => {
    const positions = new InMemoryTrainerPositions();
    const reads = jest.spyOn(positions, 'apply');
    const projector = new ReadModelsProjector(positions, new InMemoryGroupMembers());
    expect(await projector.apply(moved('ash', 1, 1))).toBe(true);
    expect(await projector.apply(moved('ash', 2, 2))).toBe(true);
    expect(reads).toHaveBeenCalledTimes(2);
    // A catch-up re-reading what the live path applied, or a redelivery: nothing to read.
    expect(await projector.apply(moved('ash', 1, 1))).toBe(false);
    expect(await projector.apply(moved('ash', 2, 2))).toBe(false);
    expect(reads).toHaveBeenCalledTimes(2);
    expect(await positions.get('ash')).toMatchObject({ x: 2, version: 2 });
    // Another trainer, and a newer version, still go to the read model.
    expect(await projector.apply(moved('misty', 5, 1))).toBe(true);
    expect(await projector.apply(moved('ash', 3, 3))).toBe(true);
    expect(reads).toHaveBeenCalledTimes(4);
  });

  it('remembers a version the read model refused as not newer (written by another instance)', async () => {
    const positions = new InMemoryTrainerPositions();
    const other = new ReadModelsProjector(positions, new InMemoryGroupMembers());
    await other.apply(moved('ash', 4, 4));
    const reads = jest.spyOn(positions, 'apply');
    const projector = new ReadModelsProjector(positions, new InMemoryGroupMembers());
    expect(await projector.apply(moved('ash', 3, 3))).toBe(false);
    expect(await projector.apply(moved('ash', 3, 3))).toBe(false);
    expect(await projector.apply(moved('ash', 2, 2))).toBe(false);
    expect(reads).toHaveBeenCalledTimes(1);
    expect(await positions.get('ash')).toMatchObject({ x: 4, version: 4 });
  });

  it('keeps the groups a move was made in on its row, and none for a move without them', async () => {
    const positions = new InMemoryTrainerPositions();
    const projector = new ReadModelsProjector(positions, new InMemoryGroupMembers());
    const grouped = moved('ash', 1, 1);
    await projector.apply({ ...grouped, data: { ...grouped.data, groups: ['johto', 'kanto'] } });
    await projector.apply(moved('misty', 1, 1));
    expect(await positions.get('ash')).toMatchObject({ version: 1, groups: ['johto', 'kanto'] });
    expect(await positions.get('misty')).not.toHaveProperty('groups');
  });
});
