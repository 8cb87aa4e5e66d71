import { testNamespace } from '@causeway/testkit';
import { type ManagedConnection } from '../src';
import {
  type KafkaClient,
  kafkaConnection,
  KafkaPublisher,
  type KafkaTransportOptions,
} from '../src/kafka';
import { conformanceMessage, conformanceSerializer } from '../src/testing';
import { removeKafkaNamespace } from './kafka.helpers';

// kafkajs' broker connection (kafkajs 2.2.4, pinned): its produce request is where the answer is
// lost below. A fault injected between our producer and the real broker, which writes the batch.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Broker = require('kafkajs/src/broker') as {
  prototype: { produce: (...args: unknown[]) => Promise<unknown> };
};

const ns = testNamespace('kafkalost');
jest.setTimeout(60_000);

/**
 * A produce request the broker wrote but whose answer was lost on every kafkajs retry (a timeout,
 * a connection closed while the broker restarts): publish() rejects and its caller (the outbox)
 * publishes again. kafkajs gives the batch's sequence numbers back on the error; the next batch
 * must still be written, not taken for a duplicate of the written one, nor refused as out of
 * sequence (a review, session 35).
 */
describe('KafkaPublisher after a send whose answer was lost', () => {
  let connection: ManagedConnection<KafkaClient>;
  const options: KafkaTransportOptions = { serializer: conformanceSerializer(), partitions: 1 };
  const produce = Broker.prototype.produce;
  let loseAnswers = false;

  beforeAll(async () => {
    connection = kafkaConnection({
      brokers: ns.kafkaBrokers,
      clientId: ns.name('lost'),
      config: { retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 100 } },
    });
    await connection.open();
    Broker.prototype.produce = async function (this: unknown, ...args: unknown[]) {
      const answer = await produce.apply(this, args); // the broker writes the batch
      if (!loseAnswers) return answer;
      throw Object.assign(new Error('Request Produce timed out (its answer was lost)'), {
        name: 'KafkaJSRequestTimeoutError',
        retriable: true,
      });
    };
  });
  afterAll(async () => {
    Broker.prototype.produce = produce;
    await removeKafkaNamespace(connection.client.admin, ns);
    await connection.close();
  });

  /** The offsets after the last record of each partition: how many records were written. */
  const written = async (topic: string) =>
    (await connection.client.admin.fetchTopicOffsets(topic)).map((p) => Number(p.high));

  /** Publishes message 1, then message 2 with its answer lost (written, publish rejected). */
  async function afterLostAnswer(publisher: KafkaPublisher, topic: string) {
    await publisher.publish(topic, [conformanceMessage(1, 'k', 'normal')]);
    loseAnswers = true;
    try {
      await expect(
        publisher.publish(topic, [conformanceMessage(2, 'k', 'normal')]),
      ).rejects.toThrow('its answer was lost');
    } finally {
      loseAnswers = false;
    }
    expect(await written(topic)).toEqual([2]);
  }

  it('writes the next batch of as many records, instead of acknowledging it unwritten', async () => {
    const publisher = new KafkaPublisher(connection.client, options);
    const topic = ns.topic('same-size');
    try {
      await afterLostAnswer(publisher, topic);
      await publisher.publish(topic, [conformanceMessage(3, 'k', 'normal')]);
      expect(await written(topic)).toEqual([3]);
    } finally {
      await publisher.close();
    }
  });

  it('writes the next batches of another size, instead of refusing them as out of sequence', async () => {
    const publisher = new KafkaPublisher(connection.client, options);
    const topic = ns.topic('other-size');
    try {
      await afterLostAnswer(publisher, topic);
      for (let i = 0; i < 3; i++)
        await publisher.publish(topic, [
          conformanceMessage(10 + i, 'k', 'normal'),
          conformanceMessage(20 + i, 'k', 'normal'),
        ]);
      expect(await written(topic)).toEqual([8]);
    } finally {
      await publisher.close();
    }
  });
});
