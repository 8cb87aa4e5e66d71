import { KafkaTransportClosedError } from '../kafka/kafka.errors';
import { TransportClosedError as RedisTransportClosedError } from '../redis/redis-streams.errors';
import { TransportClosedError } from './transport.errors';

describe('TransportClosedError', () => {
  it('is one class for every transport: the Kafka one extends it, the Redis entry exports it', () => {
    expect(RedisTransportClosedError).toBe(TransportClosedError);
    const kafka = new KafkaTransportClosedError('publisher');
    expect(kafka).toBeInstanceOf(TransportClosedError);
    // Kept as before for code that matches on them.
    expect(kafka).toMatchObject({
      name: 'KafkaTransportClosedError',
      message: 'The Kafka publisher is closed',
      what: 'publisher',
      component: 'KafkaPublisher',
    });
  });
});
