/**
 * A publisher or subscriber was used after its close() (or kill()): publish and subscribe
 * reject with it on every transport (KafkaTransportClosedError is one), so
 * `error instanceof TransportClosedError` tells "closed" alike everywhere.
 */
export class TransportClosedError extends Error {
  constructor(
    /** What was closed, e.g. `RedisStreamsPublisher`. */
    readonly component: string,
  ) {
    super(`${component} is closed`);
    this.name = 'TransportClosedError';
  }
}

/**
 * A topic name the transport's broker can never accept (Kafka: only ASCII letters, digits, '.',
 * '_' and '-', at most 249 characters). Permanent: the Router fails `run()` with it instead of
 * retrying the subscription, and a publish is refused before anything is sent.
 */
export class InvalidTopicError extends TypeError {
  constructor(
    readonly topic: string,
    readonly reason: string,
  ) {
    super(`Topic ${JSON.stringify(topic)} is invalid: ${reason}`);
    this.name = 'InvalidTopicError';
  }
}
