import { JsonSerializer, MessageFactory } from '@causeway/cqrs-core';
import { mongoConnection, MongoEventStore } from '@causeway/cqrs-core/mongodb';
import { contractsSerializer } from '@causeway/contracts';
import {
  removeNamespaceData,
  type ServiceProcess,
  testNamespace,
  waitForStatus,
} from '@causeway/testkit';
import { moved, startProjectionWorker, until } from './projection.harness';

// projection-worker's readiness while its read models are not caught up: live events are
// deferred until the first catch-up from the event store has finished, and the instance said it
// was ready all the same (its servers answered). Here the first catch-up keeps failing on an
// event the store cannot decode, until its attempts are spent and it goes past it.
jest.setTimeout(120_000);

interface Readiness {
  status: string;
  info?: Record<string, { status: string }>;
  error?: Record<string, { status: string; message?: string }>;
}

describe('projection-worker readiness while its read models catch up', () => {
  const ns = testNamespace('projready');
  const mongo = mongoConnection({ uri: ns.mongoUri(), name: 'verifier' });
  let worker: ServiceProcess | undefined;

  beforeAll(async () => {
    await mongo.open();
    // A producer that skipped the schema appended a move without a position: the worker's
    // store (the contracts' serializer) cannot decode it.
    const lax = new MongoEventStore({ connection: mongo.client, serializer: new JsonSerializer() });
    await lax.init();
    const still = { isMoving: false, direction: { x: 0, y: 0 }, speed: 0, startedAt: 0 };
    await lax.append(
      'trainer-gary',
      [new MessageFactory().event('TrainerMovedEvent', { trainerId: 'gary', movement: still })],
      { expectedVersion: 'any' },
    );
    const store = new MongoEventStore({
      connection: mongo.client,
      serializer: contractsSerializer(),
    });
    await store.init();
    await store.append('trainer-misty', [moved('misty', 7, 0)], { expectedVersion: 'any' });
  });

  afterAll(async () => {
    await worker?.stop('SIGKILL');
    await mongo.close();
    await removeNamespaceData(ns, ['mongodb', 'redis']);
  });

  it('is not ready, naming read-models and why, until its first catch-up has finished', async () => {
    worker = await startProjectionWorker(ns, 'projection-ready', {
      // Four failed catch-ups (0.5, 1, 2 s apart) before it goes past the event, 4 s later.
      CATCH_UP_MAX_ATTEMPTS: '4',
    });
    const ready = `${worker.url}/health/ready`;
    // Every server and the bus answer: the read models alone keep it from being ready.
    const failing = await until(async () => {
      const response = await fetch(ready);
      const body = (await response.json()) as Readiness;
      return response.status === 503 &&
        Object.keys(body.error ?? {}).join() === 'read-models' &&
        body.error!['read-models']!.message!.includes('the last run failed')
        ? body
        : undefined;
    }, 'readiness failing on the read models alone, after a failed catch-up');
    expect(failing.error!['read-models']!.message).toMatch(
      /^the read models are catching up from the event store; the last run failed: Invalid TrainerMovedEvent: .*stream trainer-gary/,
    );
    expect(failing.info).toMatchObject({
      redis: { status: 'up' },
      mongodb: { status: 'up' },
      bus: { status: 'up' },
    });

    // Its attempts spent, the catch-up goes past the event: caught up, and ready.
    const answer = await waitForStatus(ready, 200, 60_000);
    expect(((await answer.json()) as Readiness).info!['read-models']).toMatchObject({
      status: 'up',
    });
  });
});
