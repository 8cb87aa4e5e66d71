import {
  InMemoryBroker,
  InMemoryDeadLetterQueue,
  JsonSerializer,
  MessageFactory,
} from '@causeway/cqrs-core';
import { replayPublisher } from './replay.routes';

/** What an operator's `POST /admin/dead-letters/replay {"all": true}` does with each letter. */
describe('replayPublisher', () => {
  const factory = new MessageFactory();
  const serializer = new JsonSerializer();
  const letterOf = (topic: string, type: string) => ({
    envelope: factory.command(type, { n: 1 }, { aggregateId: 'task-1' }),
    originalTopic: topic,
    position: 'normal:0:1-0',
    group: 'g',
    handler: 'h',
    reason: 'Error: MongoDB down',
    errorName: 'Error',
    attempts: 4,
    deadLetteredAt: new Date().toISOString(),
  });

  it("keeps an order's letter in any app but order-processor, and replays the others", async () => {
    const queue = new InMemoryDeadLetterQueue();
    await queue.add(letterOf('staging-order-events-v2', 'OrderPlaced'));
    await queue.add(letterOf('staging-commands.Trainer', 'MoveTrainerCommand'));
    const bus = new InMemoryBroker({ serializer });

    const result = await queue.replay({}, replayPublisher(bus, 'staging-'));

    // Put on the Redis bus, where nothing reads the order topic, the order would be lost.
    expect(result).toMatchObject({ replayed: 1, failures: 1 });
    expect(result.failed[0]!.reason).toContain(
      "replay this letter through order-processor's /admin/dead-letters",
    );
    expect((await queue.list({})).map((letter) => letter.originalTopic)).toEqual([
      'staging-order-events-v2',
    ]);
    await bus.close();
  });

  it('replays the order topic through the route an app gives it (order-processor: Kafka)', async () => {
    const queue = new InMemoryDeadLetterQueue();
    await queue.add(letterOf('order-events-v2', 'OrderPlaced'));
    const bus = new InMemoryBroker({ serializer });
    const kafka = new InMemoryBroker({ serializer });

    const result = await queue.replay({}, replayPublisher(bus, '', { 'order-events-v2': kafka }));

    expect(result).toMatchObject({ replayed: 1, failures: 0 });
    expect(await queue.list({})).toEqual([]);
    await Promise.all([bus.close(), kafka.close()]);
  });
});
