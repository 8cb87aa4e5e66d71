import { testNamespace } from '@causeway/testkit';
import { DEFAULT_MAX_MESSAGE_BYTES, MessageTooLargeError } from '../src';
import { KafkaPublisher, type KafkaTransportOptions } from '../src/kafka';
import { conformanceMessage, conformanceSerializer } from '../src/testing';
import { setTopicConfig, useKafkaConnection } from './kafka.helpers';

const ns = testNamespace('kafkasize');

jest.setTimeout(30_000);

/**
 * MEDIUM-1 of review 16: the size check knew only `maxMessageBytes`, so a topic created
 * elsewhere with a smaller `max.message.bytes` got the raw kafkajs error from the broker, and
 * publishRaw had no check at all.
 */
describe('kafka: message size against the topic limit', () => {
  const connection = useKafkaConnection(ns, 'size');
  let publisher: KafkaPublisher;
  const options: KafkaTransportOptions = { serializer: conformanceSerializer(), partitions: 1 };
  const blob = (bytes: number) => 'x'.repeat(bytes);

  beforeAll(() => {
    publisher = new KafkaPublisher(connection().client, options);
  });
  afterAll(async () => {
    await publisher.close();
  });

  const high = async (topic: string) =>
    (await connection().client.admin.fetchTopicOffsets(topic)).map((p) => Number(p.high));

  /** A topic made by an operator or another tool, with a 20 000-byte limit. */
  async function foreignTopic(base: string): Promise<string> {
    const topic = ns.topic(base);
    await connection().client.admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic,
          numPartitions: 1,
          configEntries: [{ name: 'max.message.bytes', value: '20000' }],
        },
      ],
    });
    return topic;
  }

  it('refuses, before sending, a message over the limit of a topic created elsewhere', async () => {
    const topic = await foreignTopic('foreign');
    const refused = await publisher
      .publish(topic, [conformanceMessage(1, 'k', 'normal', blob(30_000))])
      .then(
        () => new Error('published'),
        (error: unknown) => error as Error,
      );
    expect(refused).toBeInstanceOf(MessageTooLargeError);
    expect(refused.message).toContain(JSON.stringify(topic));
    expect(refused.message).toContain('max.message.bytes');
    expect(await high(topic)).toEqual([0]);
    // Just under the limit still goes.
    await publisher.publish(topic, [conformanceMessage(2, 'k', 'normal', blob(19_000))]);
    expect(await high(topic)).toEqual([1]);
  });

  it('sends a batch larger than such a topic takes in several requests', async () => {
    const topic = await foreignTopic('chunks');
    await publisher.publish(
      topic,
      Array.from({ length: 10 }, (_, i) => conformanceMessage(i, 'k', 'normal', blob(5_000))),
    );
    expect(await high(topic)).toEqual([10]);
  });

  it('publishes, with the defaults, a message just under the serializer limit (what a store accepts)', async () => {
    const topic = ns.topic('default-limit');
    const size = (blobBytes: number) =>
      Buffer.byteLength(
        JSON.stringify(
          options.serializer.serialize(conformanceMessage(1, 'k', 'normal', blob(blobBytes))),
        ),
      );
    const bytes = DEFAULT_MAX_MESSAGE_BYTES - size(0) - 16;
    expect(size(bytes)).toBeGreaterThan(DEFAULT_MAX_MESSAGE_BYTES - 100);
    await publisher.publish(topic, [conformanceMessage(1, 'k', 'normal', blob(bytes))]);
    expect(await high(topic)).toEqual([1]);
  });

  it('publishRaw refuses a payload over maxMessageBytes before sending', async () => {
    const topic = ns.topic('raw');
    await publisher.publish(topic, [conformanceMessage(1, 'k')]);
    const refused = await publisher.publishRaw(topic, 'k', 'y'.repeat(2 * 1024 * 1024)).then(
      () => new Error('published'),
      (error: unknown) => error as Error,
    );
    expect(refused).toBeInstanceOf(MessageTooLargeError);
    expect(refused.message).toContain(JSON.stringify(topic));
    const foreign = await foreignTopic('raw-foreign');
    await expect(publisher.publishRaw(foreign, 'k', 'y'.repeat(30_000))).rejects.toBeInstanceOf(
      MessageTooLargeError,
    );
    expect(await high(topic)).toEqual([1]);
  });

  it("maps the broker's MESSAGE_TOO_LARGE (a limit lowered after the check) to MessageTooLargeError", async () => {
    const topic = ns.topic('lowered');
    await publisher.publish(topic, [conformanceMessage(1, 'k')]); // created by Causeway: 1 MiB
    await setTopicConfig(connection().client.admin, topic, 'max.message.bytes', '20000');
    const refused = await publisher
      .publish(topic, [conformanceMessage(2, 'k', 'normal', blob(30_000))])
      .then(
        () => new Error('published'),
        (error: unknown) => error as Error,
      );
    expect(refused).toBeInstanceOf(MessageTooLargeError);
    expect(refused.message).toContain(JSON.stringify(topic));
    expect(refused.message).toContain('MESSAGE_TOO_LARGE');
    expect(await high(topic)).toEqual([1]);
  });
});
