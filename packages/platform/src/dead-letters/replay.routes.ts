import {
  type Envelope,
  type Priority,
  type Publisher,
  TopicRoutedPublisher,
} from '@causeway/cqrs-core';
import { ORDER_EVENTS_TOPIC } from '@causeway/contracts';

/**
 * A replay of a letter whose topic this app must not publish: its consumer reads it from another
 * broker, through another app's admin endpoint. A TypeError, so a replay counts it as the
 * letter's own failure: the letter stays, is listed in `failed`, and the replay goes on.
 */
export class ReplayElsewhereError extends TypeError {
  override readonly name = 'ReplayElsewhereError';
}

/** Refuses every publish with ReplayElsewhereError saying where to replay instead. */
class ReplayElsewhere implements Publisher {
  constructor(private readonly where: string) {}

  async publish(topic: string, _messages: readonly Envelope[]): Promise<void> {
    throw new ReplayElsewhereError(`${topic}: ${this.where}`);
  }

  async publishRaw(topic: string, _key: string, _raw: string, _priority?: Priority): Promise<void> {
    throw new ReplayElsewhereError(`${topic}: ${this.where}`);
  }

  async close(): Promise<void> {}
}

/**
 * The publisher an app's `/admin/dead-letters` replays through: the bus, but `routes` (topic →
 * publisher) through their own, and the order topic (`<TOPIC_PREFIX>order-events-v2`) refused
 * unless `routes` names it. Orders are consumed from Kafka by order-processor alone (ADR 015):
 * put on the Redis bus by another app's replay, nothing would read them and the letter would be
 * gone — the order lost. order-processor routes the topic to Kafka.
 */
export function replayPublisher(
  bus: Publisher,
  topicPrefix: string,
  routes: Readonly<Record<string, Publisher>> = {},
): Publisher {
  const orders = `${topicPrefix}${ORDER_EVENTS_TOPIC}`;
  return new TopicRoutedPublisher(bus, {
    [orders]: new ReplayElsewhere(
      "orders are consumed from Kafka by order-processor: replay this letter through order-processor's /admin/dead-letters (the CLI with its --url); it stays here",
    ),
    ...routes,
  });
}
