import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  acceptedProgressStatus,
  ORDER_PLACED,
  type OrderPlaced,
  type PlaceOrderRequest,
} from '@causeway/contracts';
import { type Envelope, MessageFactory } from '@causeway/cqrs-core';
import { type Caller, type ProgressStatuses } from '@causeway/platform';
import { COMMAND_API_OPTIONS, type CommandApiOptions } from '../command-api.options';
import { OrderUnconfirmedError } from '../errors/command-api.errors';
import { idempotentAcceptedAt, idempotentCommandId } from '../idempotency/idempotent-command-ids';
import { type OrderAccepted, orderAccepted } from './order.schemas';

/**
 * Where orders go: a publisher acknowledging only what its broker stored, and the topic. The
 * standalone app gives its KafkaPublisher; the embedded mode its in-memory broker, which the
 * order consumer of the same process reads.
 */
export interface OrderIntakeOptions {
  /**
   * Resolves once the broker stored the messages (Kafka: acks = all), after which the order
   * reaches the order consumer; rejects otherwise (503 `order-unconfirmed`).
   */
  publisher: { publish(topic: string, messages: readonly Envelope[]): Promise<void> };
  /** The full topic name, prefix included (orderEventsTopic). */
  topic: string;
  /**
   * Where an acknowledged order is recorded as `ACCEPTED` (acceptedProgressStatus), so that the
   * 202's statusUrl and subscribeUrl show the task before order-processor stored its first
   * step: the ProgressStatuses order-processor and the gateways use (Redis under the same
   * TOPIC_PREFIX; the embedded mode's in-memory one).
   */
  statuses: Pick<ProgressStatuses, 'apply'>;
  /**
   * Longest an order waits for the broker's acknowledgement before the caller gets 503
   * `order-unconfirmed` (the order may still be written later). Default 5000 ms.
   */
  publishTimeoutMs?: number;
}

export const DEFAULT_ORDER_PUBLISH_TIMEOUT_MS = 5_000;

/** The aggregate type of an order's envelope: the task its steps report on (ADR 015). */
export const ORDER_AGGREGATE_TYPE = 'ProgressTask';

/**
 * Places orders (ADR 015 point 1): makes the task id, publishes `OrderPlaced` keyed by it (so a
 * task's messages keep one partition) and answers only once Kafka acknowledged it. Under an
 * Idempotency-Key the task id and the message id derive from the key (idempotentCommandId), and
 * `placedAt` is the key's first attempt: a retry after a 503 publishes the very same order,
 * which the order consumer runs once per task. The publisher is CommandApiOptions.orders': Kafka
 * in the distributed system, the in-memory broker in the embedded mode.
 */
@Injectable()
export class OrderIntake {
  private readonly logger = new Logger(OrderIntake.name);
  private readonly messages = new MessageFactory();

  constructor(@Inject(COMMAND_API_OPTIONS) private readonly options: CommandApiOptions) {}

  async place(caller: Caller, request: PlaceOrderRequest, keyed = false): Promise<OrderAccepted> {
    const orders = this.options.orders;
    if (!orders) throw new Error('OrderIntake: CommandApiOptions.orders is not configured');
    const taskId = idempotentCommandId() ?? randomUUID();
    const messageId = idempotentCommandId() ?? randomUUID();
    const at = idempotentAcceptedAt() ?? this.options.clock?.now() ?? Date.now();
    const placedAt = new Date(at).toISOString();
    const order: OrderPlaced = { taskId, userId: caller.userId, items: request.items, placedAt };
    const envelope = this.messages.event(ORDER_PLACED, order, {
      messageId,
      aggregateId: taskId,
      aggregateType: ORDER_AGGREGATE_TYPE,
      metadata: { issuerId: caller.userId, issuerType: 'user', timestamp: placedAt },
    });
    const publishing = orders.publisher.publish(orders.topic, [envelope]);
    try {
      await within(publishing, orders.publishTimeoutMs ?? DEFAULT_ORDER_PUBLISH_TIMEOUT_MS);
    } catch (error) {
      // A publish given up on may still finish: its late outcome is nobody's answer.
      publishing.catch(() => undefined);
      const reason = (error as Error)?.message ?? String(error);
      this.logger.warn(`order ${taskId} not acknowledged by the broker: ${reason}`);
      throw new OrderUnconfirmedError(taskId, reason, keyed);
    }
    await this.recordAccepted(order);
    return orderAccepted(taskId);
  }

  /**
   * Records the acknowledged order as ACCEPTED. Its eventCount 0 never replaces a status of
   * order-processor's, which may be written first. A failure is logged, not answered: the order
   * is in Kafka and will run, and a 503 would make a caller without an Idempotency-Key place it
   * twice; the status then 404s until the first step is stored, as before ADR 015's session 38.
   */
  private async recordAccepted(order: OrderPlaced): Promise<void> {
    try {
      await this.options.orders!.statuses.apply(acceptedProgressStatus(order));
    } catch (error) {
      const reason = (error as Error)?.message ?? String(error);
      this.logger.warn(`order ${order.taskId} accepted but not recorded as ACCEPTED: ${reason}`);
    }
  }
}

/** `work`, or a rejection once `timeoutMs` passed without its answer. */
function within(work: Promise<void>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no acknowledgement within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
