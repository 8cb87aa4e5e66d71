import { z } from 'zod';

/** The 202 answer of `POST /api/v2/progress/orders`: the task the order's steps report on. */
export const OrderAccepted = z.object({
  /** The task's id (UUID): its status, history and live progress are found under it. */
  taskId: z.uuid(),
  /** `GET` it for the task's status (order-processor, through the edge). */
  statusUrl: z.string(),
  /** An EventSource on it follows the task's progress (sse-gateway, through the edge). */
  subscribeUrl: z.string(),
});
export type OrderAccepted = z.infer<typeof OrderAccepted>;

/** The answer for `taskId`: where its status and its live progress are read. */
export function orderAccepted(taskId: string): OrderAccepted {
  const id = encodeURIComponent(taskId);
  return {
    taskId,
    statusUrl: `/api/v2/progress/status/${id}`,
    subscribeUrl: `/api/v2/progress/subscribe/${id}`,
  };
}

/** The Kafka topic orders are published to: ORDER_EVENTS_TOPIC after the deployment's prefix. */
export function orderEventsTopic(topicPrefix: string, topic: string): string {
  // As topicNaming prefixes every other topic of the deployment: the prefix as it is.
  return `${topicPrefix}${topic}`;
}
