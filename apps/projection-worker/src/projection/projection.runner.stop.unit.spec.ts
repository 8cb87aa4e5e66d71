import {
  type Envelope,
  InMemoryCheckpointStore,
  InMemoryEventStore,
  MessageFactory,
  type ReadAllOptions,
} from '@causeway/cqrs-core';
import { contractsSerializer } from '@causeway/contracts';
import {
  InMemoryGroupMembers,
  InMemoryNotificationLog,
  InMemoryTrainerPositions,
} from '@causeway/platform';
import { ProjectionRunner } from './projection.runner';

const factory = new MessageFactory();
const still = { isMoving: false, direction: { x: 0, y: 0 }, speed: 0, startedAt: 0 };
const moved = (trainerId: string, x: number): Envelope =>
  factory.event('TrainerMovedEvent', {
    trainerId,
    position: { x, y: 0 },
    movement: still,
    timestamp: Date.now(),
  });

/** A store whose reads of the global log take `delayMs` (FerretDB scanning a large collection). */
class SlowStore extends InMemoryEventStore {
  delayMs = 0;
  readsStarted = 0;
  override async readAllPage(options?: ReadAllOptions) {
    this.readsStarted++;
    const page = await super.readAllPage(options);
    await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    return page;
  }
}

describe('ProjectionRunner.stop during a slow catch-up read', () => {
  const READ_MS = 3_000;

  async function setup(catchUpIntervalMs: number) {
    const eventStore = new SlowStore({ serializer: contractsSerializer() });
    const positions = new InMemoryTrainerPositions();
    const checkpoints = new InMemoryCheckpointStore();
    const runner = new ProjectionRunner({
      serverId: 'projection-1',
      eventStore,
      positions,
      groups: new InMemoryGroupMembers(),
      notifications: new InMemoryNotificationLog(),
      checkpoints,
      catchUpIntervalMs,
    });
    await eventStore.append('trainer-ash', [moved('ash', 1)], { expectedVersion: 'any' });
    return { eventStore, positions, checkpoints, runner };
  }

  const waitFor = async (condition: () => boolean) => {
    while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
  };

  it('returns promptly from the first catch-up and applies nothing of the read it left', async () => {
    const { eventStore, positions, checkpoints, runner } = await setup(0);
    eventStore.delayMs = READ_MS;
    const started = runner.start();
    await waitFor(() => eventStore.readsStarted === 1);

    const t0 = Date.now();
    await runner.stop();
    expect(Date.now() - t0).toBeLessThan(500);
    await started;
    expect(runner.isCaughtUp).toBe(false);

    // The read finishes later: its events are discarded, the checkpoint stays.
    await new Promise((resolve) => setTimeout(resolve, READ_MS + 100));
    expect(await positions.get('ash')).toBeUndefined();
    expect(await checkpoints.load('projection-worker.read-models')).toBe(0);
  });

  it('returns promptly from a periodic catch-up, keeping what it applied before', async () => {
    const { eventStore, positions, checkpoints, runner } = await setup(20);
    await runner.start(); // fast first catch-up
    expect((await positions.get('ash'))?.version).toBe(1);
    const before = await checkpoints.load('projection-worker.read-models');
    eventStore.delayMs = READ_MS;
    const reads = eventStore.readsStarted;
    await eventStore.append('trainer-ash', [moved('ash', 2)], { expectedVersion: 'any' });
    await waitFor(() => eventStore.readsStarted > reads);

    const t0 = Date.now();
    await runner.stop();
    expect(Date.now() - t0).toBeLessThan(500);
    await new Promise((resolve) => setTimeout(resolve, READ_MS + 100));
    expect((await positions.get('ash'))?.version).toBe(1);
    expect(await checkpoints.load('projection-worker.read-models')).toBe(before);
  });
});
