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
