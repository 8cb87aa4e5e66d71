import { kafkaConnection } from './kafka.connection';
import { JsonSerializer } from '../messages/json.serializer';
import { KafkaPublisher } from './kafka.publisher';
import { KafkaSubscriber } from './kafka.subscriber';

describe('KafkaPublisher', () => {
  it('refuses a message size limit that is not a positive integer, naming the option', async () => {
    // Not connected: the check comes before anything is opened. NaN (a `Number(env)` of
    // nothing) compared false with every size, so no message was ever too large for it.
    const { client } = kafkaConnection({ brokers: ['127.0.0.1:1'], clientId: 'unit' });
    const serializer = new JsonSerializer();
    expect(() => new KafkaPublisher(client, { serializer, maxMessageBytes: NaN })).toThrow(
      new TypeError('KafkaPublisher: options.maxMessageBytes must be a positive integer, got NaN'),
    );
    expect(() => new KafkaPublisher(client, { serializer, maxMessageBytes: 0 })).toThrow(
      /KafkaPublisher: options\.maxMessageBytes must be a positive integer, got 0/,
    );
    const publisher = new KafkaPublisher(client, { serializer, maxMessageBytes: 2_000_000 });
    await publisher.close();
  });
});

// A review (session 43): built without its client it threw "Cannot read properties of undefined
// (reading 'admin')"; without options, "(reading 'maxMessageBytes')"; without a serializer it
// failed only at the first publish.
describe('KafkaPublisher and KafkaSubscriber built without what they need', () => {
  const { client } = kafkaConnection({ brokers: ['127.0.0.1:1'], clientId: 'unit' });
  const serializer = new JsonSerializer();
  const builders = {
    KafkaPublisher: (c: unknown, o: unknown) =>
      new KafkaPublisher(c as typeof client, o as { serializer: JsonSerializer }),
    KafkaSubscriber: (c: unknown, o: unknown) =>
      new KafkaSubscriber(c as typeof client, o as { serializer: JsonSerializer }),
  };

  it.each(Object.keys(builders) as (keyof typeof builders)[])(
    '%s names the client, the options or the serializer',
    (owner) => {
      const build = builders[owner];
      expect(() => build(undefined, { serializer })).toThrow(
        new TypeError(
          `${owner}: its first argument must be a Kafka client (kafkaConnection(...).client: { kafka, admin }), got undefined`,
        ),
      );
      expect(() => build({ client }, { serializer })).toThrow(
        /got a connection: pass its \.client$/,
      );
      expect(() => build(client, undefined)).toThrow(
        new TypeError(
          `${owner}: options must be an object with a serializer ({ serializer }), got undefined`,
        ),
      );
      expect(() => build(client, {})).toThrow(
        new TypeError(
          `${owner}: options.serializer must be a MessageSerializer (with serialize and deserialize, e.g. a SerializerRegistry), got undefined`,
        ),
      );
      expect(() => build(client, { serializer: 'json' })).toThrow(
        /serializer must be .*, got "json"$/,
      );
    },
  );
});
