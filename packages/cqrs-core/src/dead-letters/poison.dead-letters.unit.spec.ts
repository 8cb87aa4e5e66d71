import { Registry } from 'prom-client';
import { MessagingMetrics } from '../metrics/messaging.metrics';
import { conformanceMessage, conformanceSerializer } from '../testing/transport.conformance';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { type DeadLetter } from './dead-letter-queue.port';
import { InMemoryDeadLetterQueue } from './in-memory.dead-letter-queue';
import { poisonToDeadLetters } from './poison.dead-letters';

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('poisonToDeadLetters', () => {
  it('dead-letters an undecodable message with its raw payload and reason, counts it, and keeps the topic flowing', async () => {
    const queue = new InMemoryDeadLetterQueue();
    const registry = new Registry();
    new MessagingMetrics(registry);
    const broker = new InMemoryBroker({
      serializer: conformanceSerializer(),
      onPoison: poisonToDeadLetters(queue, { registry }),
    });
    const handled: string[] = [];
    const subscription = await broker
      .subscriber()
      .subscribe(['orders'], { group: 'g', consumer: 'c' }, async (delivery) => {
        handled.push(delivery.envelope.messageId);
      });
    await broker.publishRaw('orders', 'k', '{not json');
    const after = conformanceMessage(1);
    await broker.publish('orders', [after]);

    await until(async () => handled.length === 1, 'the message after the poison');
    expect(handled).toEqual([after.messageId]);
    const letters: DeadLetter[] = await queue.list({ handler: '(decoder)' });
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      raw: '{not json',
      originalTopic: 'orders',
      group: 'g',
      handler: '(decoder)',
      errorName: 'UndecodableMessageError',
      attempts: 1,
    });
    expect(letters[0]?.envelope).toBeUndefined();
    expect(letters[0]?.reason).not.toBe('');
    const counted = await registry.getSingleMetricAsString('causeway_messages_dead_lettered_total');
    expect(counted).toContain(
      'causeway_messages_dead_lettered_total{topic="orders",handler="(decoder)"} 1',
    );
    await subscription.close();
  });
});
