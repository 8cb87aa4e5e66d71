/** A topic could not be created or did not get partition leaders in time. */
export class KafkaTopicUnavailableError extends Error {
  constructor(
    readonly topic: string,
    readonly reason: string,
  ) {
    super(`Kafka topic "${topic}" is not available: ${reason}`);
    this.name = 'KafkaTopicUnavailableError';
  }
}

/** A publisher or subscriber was used after close(). */
export class KafkaTransportClosedError extends Error {
  constructor(readonly what: 'publisher' | 'subscriber') {
    super(`The Kafka ${what} is closed`);
    this.name = 'KafkaTransportClosedError';
  }
}
