import { z } from 'zod';
import { hasNoNul, isWellFormedText } from '../trainer/move-trainer.command';

/** The Kafka topic orders travel on (S3-2), before the deployment's topic prefix. */
export const ORDER_EVENTS_TOPIC = 'order-events-v2';

/** The steps the order consumer runs, in order (S3-2): the last one completes the task. */
export const ORDER_STEPS = [
  'validate order',
  'check stock',
  'process payment',
  'complete',
] as const;

/** The longest task id: an order's, and so the `{taskId}` the progress routes take. */
export const MAX_TASK_ID_LENGTH = 128;

/**
 * A task's id (an order's `taskId`; command-api makes UUIDs): what its event stream
 * (`progress-<taskId>`) and its status are keyed by, so only ids every store can key.
 */
export const TaskId = z
  .string()
  .min(1, 'must not be empty')
  .max(MAX_TASK_ID_LENGTH, `must be at most ${MAX_TASK_ID_LENGTH} characters`)
  .refine(hasNoNul, 'must not contain a NUL character')
  .refine(isWellFormedText, 'must be well-formed Unicode (a lone surrogate is not)');

const Sku = z
  .string()
  .min(1, 'must not be empty')
  .max(64)
  .refine(isWellFormedText, 'must be well-formed Unicode (a lone surrogate is not)');

export const OrderItem = z.object({
  sku: Sku,
  quantity: z.number().int('must be an integer').min(1).max(1_000),
});
export type OrderItem = z.infer<typeof OrderItem>;

/**
 * S3-2: the body of `POST /api/v2/progress/orders`. The user is the caller (their token). Strict
 * down to its items: a field this API does not know (`giftWrap`, say) is refused
 * naming it, never dropped while the order is accepted. (OrderPlaced, on Kafka, keeps reading
 * items leniently: a newer producer's extra field must not fail an older consumer.)
 */
export const PlaceOrderRequest = z.strictObject({
  items: z.array(z.strictObject(OrderItem.shape)).min(1, 'must list at least one item').max(50),
});
export type PlaceOrderRequest = z.infer<typeof PlaceOrderRequest>;

/**
 * S3-2: an order accepted by command-api, on its way to the order consumer over Kafka (key =
 * taskId). `taskId` names the task whose progress the order's steps report.
 */
export const OrderPlaced = z.object({
  taskId: TaskId,
  userId: z.string().min(1),
  items: z.array(OrderItem).min(1).max(50),
  /** ISO 8601, when command-api accepted it. */
  placedAt: z.iso.datetime(),
});
export type OrderPlaced = z.infer<typeof OrderPlaced>;
export const ORDER_PLACED = 'OrderPlaced';
