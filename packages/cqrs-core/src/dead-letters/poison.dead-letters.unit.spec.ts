import { Registry } from 'prom-client';
import { z } from 'zod';
import { type Envelope } from '../messages/envelope';
import { testEnvelope } from '../testing/envelope.fixture';
import { MessagingMetrics } from '../metrics/messaging.metrics';
import { conformanceMessage, conformanceSerializer } from '../testing/transport.conformance';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { type DeadLetter } from './dead-letter-queue.port';
import { InMemoryDeadLetterQueue } from './in-memory.dead-letter-queue';
import { TracedPublisher } from '../opentelemetry/traced.publisher';
import { poisonToDeadLetters } from './poison.dead-letters';
import { SerializerRegistry } from '../messages/serializer.registry';
import { checksumOf } from '../messages/checksum';

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * A consumer that does not know `Later` yet (before a deploy), and the letter its poison
 * handling keeps of one `Later` message: what a replay after the deploy writes back.
 */
async function notUnderstood(queue: InMemoryDeadLetterQueue) {
  const newer = conformanceSerializer().register('Later', z.object({ s: z.string() }));
  const before = new InMemoryBroker({
    serializer: conformanceSerializer(),
    onPoison: poisonToDeadLetters(queue),
  });
  await before.subscriber().subscribe(['orders'], { group: 'g', consumer: 'c' }, async () => {});
  const later: Envelope = testEnvelope('Later', { s: 'x' }, { aggregateId: 'k' });
  await before.publishRaw('orders', 'k', JSON.stringify(newer.serialize(later)));
  return { newer, before, later };
}

describe('poisonToDeadLetters', () => {
  it('dead-letters an undecodable message with its raw payload and reason, counts it, warns, and keeps the topic flowing', async () => {
    // Observed, not replaced: jest's sandboxed `process` does not pass warnings to listeners.
    const warn = jest.spyOn(process, 'emitWarning');
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
    expect(warn.mock.calls.map(([message, options]) => [String(message), options])).toEqual([
      [
        `(undecodable) on orders dead-lettered by handler (decoder) (group g) after 1 ` +
          `attempt(s): ${letters[0]!.reason}. Letter ${letters[0]!.id}: list, replay or purge ` +
          'it with the dead-letter admin API or CLI',
        { type: 'CausewayDeadLetterWarning', code: 'CAUSEWAY_DEAD_LETTERED' },
      ],
    ]);
    const counted = await registry.getSingleMetricAsString('causeway_messages_dead_lettered_total');
    expect(counted).toContain(
      'causeway_messages_dead_lettered_total{topic="orders",handler="(decoder)"} 1',
    );
    await subscription.close();
    warn.mockRestore();
  });

  it('keeps a message of a type the consumer does not know yet as not understood, and replays it once it does', async () => {
    const queue = new InMemoryDeadLetterQueue();
    // The next release publishes `Later`; this consumer does not know it yet.
    const { newer, before, later } = await notUnderstood(queue);
    await before.publishRaw('orders', 'k', '{not json');
    await until(async () => (await queue.list()).length === 2, 'both poison letters');
    const [unknown, malformed] = await queue.list();
    expect(unknown).toMatchObject({
      handler: '(decoder)',
      errorName: 'NotUnderstoodMessageError',
      reason: expect.stringContaining('UnknownMessageTypeError'),
    });
    expect(malformed).toMatchObject({ errorName: 'UndecodableMessageError' });
    expect(await queue.stats()).toMatchObject({
      byReason: { NotUnderstoodMessageError: 1, UndecodableMessageError: 1 },
    });

    // After the deploy: the consumer knows `Later`.
    const after = new InMemoryBroker({ serializer: newer });
    const handled: Envelope[] = [];
    await after.subscriber().subscribe(['orders'], { group: 'g', consumer: 'c' }, async (d) => {
      handled.push(d.envelope);
    });
    expect(await queue.replay({ originalTopic: 'orders' }, after)).toEqual({
      replayed: 1,
      skipped: 1,
      skips: [{ id: malformed!.id, reason: expect.stringContaining('malformed') }],
      failed: [],
      failures: 0,
    });
    await until(async () => handled.length === 1, 'the replayed message');
    expect(handled[0]).toMatchObject({
      messageId: later.messageId,
      type: 'Later',
      data: { s: 'x' },
      metadata: { retryCount: 0, replayFor: 'g', replayedFrom: unknown!.id },
    });
    expect((await queue.list()).map((letter) => letter.id)).toEqual([malformed!.id]);
    await before.close();
    await after.close();
  });

  it('keeps a message whose data fails the consumer’s schema as not understood, and replays it once the schema accepts it', async () => {
    const queue = new InMemoryDeadLetterQueue();
    // The producer's release made `note` optional without bumping the version.
    const producer = new SerializerRegistry().register(
      'Noted',
      z.object({ note: z.string() }).partial(),
    );
    const strict = new SerializerRegistry().register('Noted', z.object({ note: z.string() }));
    const before = new InMemoryBroker({
      serializer: strict,
      onPoison: poisonToDeadLetters(queue),
    });
    await before.subscriber().subscribe(['orders'], { group: 'g', consumer: 'c' }, async () => {});
    const noted: Envelope = testEnvelope('Noted', {}, { aggregateId: 'k' });
    await before.publishRaw('orders', 'k', JSON.stringify(producer.serialize(noted)));
    // Data that is not JSON (its checksum holds) fails validation too, but stays malformed.
    const notJson = { ...producer.serialize(testEnvelope('Noted', {})), data: '{x' };
    notJson.metadata = { ...notJson.metadata, checksum: checksumOf('{x') };
    await before.publishRaw('orders', 'k', JSON.stringify(notJson));
    await until(async () => (await queue.list()).length === 2, 'both poison letters');
    const [invalid, malformed] = await queue.list();
    expect(invalid).toMatchObject({
      handler: '(decoder)',
      errorName: 'NotUnderstoodMessageError',
      reason: expect.stringMatching(/^MessageValidationError: Invalid Noted: note /),
    });
    expect(malformed).toMatchObject({
      errorName: 'UndecodableMessageError',
      reason: expect.stringMatching(/^MessageValidationError: .*is not JSON/),
    });

    // After the fix: the consumer's schema accepts the data.
    const after = new InMemoryBroker({ serializer: producer });
    const handled: Envelope[] = [];
    await after.subscriber().subscribe(['orders'], { group: 'g', consumer: 'c' }, async (d) => {
      handled.push(d.envelope);
    });
    expect(await queue.replay({ originalTopic: 'orders' }, after)).toMatchObject({
      replayed: 1,
      skipped: 1,
      failed: [],
      failures: 0,
    });
    await until(async () => handled.length === 1, 'the replayed message');
    expect(handled[0]).toMatchObject({
      messageId: noted.messageId,
      type: 'Noted',
      data: {},
      metadata: { replayFor: 'g', replayedFrom: invalid!.id },
    });
    expect((await queue.list()).map((letter) => letter.id)).toEqual([malformed!.id]);
    await before.close();
    await after.close();
  });

  it('replays a not-understood letter through the publishers services wrap theirs in (traced, counted)', async () => {
    const queue = new InMemoryDeadLetterQueue();
    const { newer, before, later } = await notUnderstood(queue);
    await until(async () => (await queue.list()).length === 1, 'the poison letter');

    const after = new InMemoryBroker({ serializer: newer });
    const handled: string[] = [];
    await after.subscriber().subscribe(['orders'], { group: 'g', consumer: 'c' }, async (d) => {
      handled.push(d.envelope.messageId);
    });
    const registry = new Registry();
    // As the apps publish: counted (the Nest module), then traced (the messaging module).
    const publisher = new TracedPublisher(new MessagingMetrics(registry).instrument(after));
    expect(await queue.replay({ originalTopic: 'orders' }, publisher)).toMatchObject({
      replayed: 1,
      failed: [],
      failures: 0,
    });
    await until(async () => handled.length === 1, 'the replayed message');
    expect(handled).toEqual([later.messageId]);
    expect(await registry.getSingleMetricAsString('causeway_messages_published_total')).toContain(
      'causeway_messages_published_total{topic="orders"} 1',
    );
    await before.close();
    await after.close();
  });
});
