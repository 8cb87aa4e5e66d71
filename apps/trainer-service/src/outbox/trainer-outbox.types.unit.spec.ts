import {
  contractsSerializer,
  PROGRESS_EVENT,
  progressStreamId,
  TRAINER_MOVED_EVENT,
} from '@causeway/contracts';
import {
  createMessage,
  InMemoryBroker,
  InMemoryCheckpointStore,
  InMemoryEventStore,
} from '@causeway/cqrs-core';
import { type CqrsCoreModuleOptions } from '@causeway/cqrs-core/nest';
import { type TrainerModuleOptions } from '../trainer/trainer.module-options';
import { TrainerOutbox } from './trainer-outbox.service';

const until = async (done: () => boolean) => {
  for (const deadline = Date.now() + 5_000; !done();) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

// order-processor once stored its progress in the trainer's event store (one database, one
// collection prefix): the outbox published every ProgressEvent to the bus, where no one read it
// and it outlived PROGRESS_HISTORY_TTL_MS (a review, session 39). The outbox is the trainer's.
describe('TrainerOutbox: publishes only the trainer’s events', () => {
  it('leaves an event of another context in its store off the bus, and forwards the trainer’s', async () => {
    const serializer = contractsSerializer();
    const store = new InMemoryEventStore({ serializer });
    const broker = new InMemoryBroker({ serializer });
    const outbox = new TrainerOutbox(
      {
        eventStore: store,
        forwarder: { checkpoints: new InMemoryCheckpointStore(), pollIntervalMs: 5 },
      } as unknown as TrainerModuleOptions,
      { promise: Promise.resolve() },
      broker,
      { serializer, topicPrefix: '' } as unknown as CqrsCoreModuleOptions,
    );
    // A foreign event the rounds find, and one appended through eager forwarding.
    for (const [taskId, appendTo] of [
      ['task-1', store],
      ['task-2', outbox.eager(store)],
    ] as const)
      await appendTo.append(
        progressStreamId(taskId),
        [
          createMessage({
            type: PROGRESS_EVENT,
            data: {
              eventId: `${taskId}:0:STARTED`,
              taskId,
              userId: 'ash',
              currentStep: 0,
              totalSteps: 4,
              percentage: 0,
              stepName: 'validate order',
              eventType: 'STARTED',
              timestamp: new Date().toISOString(),
            },
            category: 'event',
            aggregateId: taskId,
            causedBy: null,
          }),
        ],
        { expectedVersion: 'no-stream' },
      );
    await store.append(
      'trainer-ash',
      [
        createMessage({
          type: TRAINER_MOVED_EVENT,
          data: {
            trainerId: 'ash',
            position: { x: 1, y: 2 },
            movement: { isMoving: false, direction: { x: 0, y: 0 }, speed: 0, startedAt: 0 },
            timestamp: Date.now(),
          },
          category: 'event',
          aggregateId: 'ash',
          causedBy: null,
        }),
      ],
      { expectedVersion: 'no-stream' },
    );
    const received: string[] = [];
    const subscriber = broker.subscriber();
    await subscriber.subscribe(
      [`events.${PROGRESS_EVENT}`, `events.${TRAINER_MOVED_EVENT}`],
      { group: 'probe', consumer: 'probe-1' },
      async (delivery) => {
        received.push(delivery.envelope.type);
      },
    );
    outbox.onApplicationBootstrap();
    try {
      await until(() => received.includes(TRAINER_MOVED_EVENT));
      // A few more rounds: a ProgressEvent would have gone out with the move, or before it.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(received).toEqual([TRAINER_MOVED_EVENT]);
    } finally {
      await outbox.beforeApplicationShutdown();
      await subscriber.close();
      await broker.close();
    }
  });
});
