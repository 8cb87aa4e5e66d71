import { ORDER_EVENTS_TOPIC } from '@causeway/contracts';

/**
 * The Kafka topic orders arrive on: ORDER_EVENTS_TOPIC after the deployment's TOPIC_PREFIX,
 * joined as topicNaming joins it (`<prefix>order-events-v2`); command-api publishes to the same.
 */
export function orderEventsTopic(topicPrefix: string): string {
  return `${topicPrefix}${ORDER_EVENTS_TOPIC}`;
}
