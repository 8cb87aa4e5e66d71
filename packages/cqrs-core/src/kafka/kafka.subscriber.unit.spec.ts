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

  it.each([
    // NaN: kafkajs heartbeats only when `now >= last + interval` (never), the batch's own
    // heartbeat timer fires every millisecond, and the member is dropped every session.
    ['heartbeatIntervalMs', NaN, 'a positive number of milliseconds up to 2147483647'],
    // Sent to Kafka as a 32-bit integer: the broker's refusal named no option.
    ['sessionTimeoutMs', 6_000.5, 'a positive whole number of milliseconds up to 2147483647'],
    ['rebalanceTimeoutMs', 0, 'a positive whole number of milliseconds up to 2147483647'],
    ['maxWaitTimeMs', -1, 'a non-negative whole number of milliseconds up to 2147483647'],
    // NaN: `crashes < NaN` is false, so probe() failed from the start (never ready).
    ['unhealthyAfterCrashes', NaN, 'a positive integer'],
    ['maxMessageBytes', '1048576', 'a positive integer'],
  ])('refuses %s = %p, naming it, before anything is opened', (name, value, expected) => {
    const { client } = kafkaConnection({ brokers: ['127.0.0.1:1'], clientId: 'unit' });
    const serializer = new JsonSerializer();
    const shown = typeof value === 'string' ? `"${value}"` : String(value);
    expect(() => new KafkaSubscriber(client, { serializer, [name]: value })).toThrow(
      new TypeError(`KafkaSubscriber: options.${name} must be ${expected}, got ${shown}`),
    );
  });

  // kafkajs refuses such a pair only when a subscribe() builds its consumer, naming its own
  // option names: each subscribe() failed, and the Router retried it for ever (not permanent),
  // the handler never subscribed, the topics created all the same.
  it.each([
    [
      { sessionTimeoutMs: 3_000 },
      'heartbeatIntervalMs (3000, the default)',
      'sessionTimeoutMs (3000)',
    ],
    [
      { heartbeatIntervalMs: 30_000 },
      'heartbeatIntervalMs (30000)',
      'sessionTimeoutMs (30000, the default)',
    ],
    [
      { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 9_000 },
      'heartbeatIntervalMs (9000)',
      'sessionTimeoutMs (6000)',
    ],
  ])(
    'refuses %p: the heartbeat must come more often than the session times out',
    (settings, heartbeat, session) => {
      const { client } = kafkaConnection({ brokers: ['127.0.0.1:1'], clientId: 'unit' });
      expect(
        () => new KafkaSubscriber(client, { serializer: new JsonSerializer(), ...settings }),
      ).toThrow(
        new TypeError(
          `KafkaSubscriber: options.${heartbeat} must be below options.${session}: ` +
            'a member heartbeats every heartbeatIntervalMs, and the broker drops one silent for sessionTimeoutMs (keep the heartbeat below a third of it)',
        ),
      );
    },
  );

  it('takes the consumer settings the tests and apps use', () => {
    const { client } = kafkaConnection({ brokers: ['127.0.0.1:1'], clientId: 'unit' });
    const settings = {
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 300,
      rebalanceTimeoutMs: 10_000,
      maxWaitTimeMs: 0,
      unhealthyAfterCrashes: 3,
      maxMessageBytes: 1_048_576,
    };
    expect(
      () => new KafkaSubscriber(client, { serializer: new JsonSerializer(), ...settings }),
    ).not.toThrow();
  });
});
