import { JsonSerializer } from '../messages/json.serializer';
import { kafkaConnection } from './kafka.connection';
import { KafkaSubscriber } from './kafka.subscriber';

describe('KafkaSubscriber', () => {
  it('refuses a redelivery delay or close timeout that is not a number of milliseconds, naming it', () => {
    // Not connected: the checks come before anything is opened.
    const { client } = kafkaConnection({ brokers: ['127.0.0.1:1'], clientId: 'unit' });
    const serializer = new JsonSerializer();
    // NaN (a `Number(env)` of nothing) made close() abandon every handler in flight at once.
    expect(() => new KafkaSubscriber(client, { serializer, closeTimeoutMs: NaN })).toThrow(
      new TypeError(
        'KafkaSubscriber: options.closeTimeoutMs must be a non-negative number of milliseconds up to 2147483647, got NaN',
      ),
    );
    expect(() => new KafkaSubscriber(client, { serializer, redeliveryDelayMs: -5 })).toThrow(
      /KafkaSubscriber: options\.redeliveryDelayMs must be a non-negative number of milliseconds/,
    );
    expect(
      () => new KafkaSubscriber(client, { serializer, redeliveryDelayMs: 0, closeTimeoutMs: 0 }),
    ).not.toThrow();
  });
});
