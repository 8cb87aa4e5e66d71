import { kafkaConnection } from './kafka.connection';
import { JsonSerializer } from '../messages/json.serializer';
import { KafkaPublisher } from './kafka.publisher';

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
