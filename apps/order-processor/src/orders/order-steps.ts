import {
  isFinished,
  ORDER_STEPS,
  type OrderPlaced,
  type ProgressEvent,
  progressEventId,
  type ProgressStatus,
} from '@causeway/contracts';

/** What the shop sells: per sku, units in stock and the unit price in cents. */
export type OrderCatalog = Readonly<Record<string, { stock: number; priceCents: number }>>;

/** What the steps check an order against (configuration: ORDER_CATALOG, PAYMENT_LIMIT_CENTS). */
export interface OrderRules {
  catalog: OrderCatalog;
  /** The largest order total a payment is accepted for, in cents. */
  paymentLimitCents: number;
}

/** Steps of a task: STARTED is step 0, then one per ORDER_STEPS entry. */
export const TOTAL_STEPS = ORDER_STEPS.length;

/**
 * Why the order fails at `step` (1-based, ORDER_STEPS), or undefined when the step passes.
 * Checked in order: unknown skus at 'validate order', stock at 'check stock', the total against
 * the payment limit at 'process payment'; 'complete' never fails.
 */
export function failureAt(order: OrderPlaced, rules: OrderRules, step: number): string | undefined {
  switch (ORDER_STEPS[step - 1]) {
    case 'validate order': {
      const unknown = order.items.filter((item) => !entryOf(rules.catalog, item.sku));
      return unknown.length > 0
        ? `unknown sku ${unknown.map((item) => item.sku).join(', ')}`
        : undefined;
    }
    case 'check stock': {
      for (const [sku, quantity] of quantities(order)) {
        const stock = entryOf(rules.catalog, sku)!.stock;
        if (quantity > stock)
          return `not enough stock of ${sku}: ${quantity} ordered, ${stock} in stock`;
      }
      return undefined;
    }
    case 'process payment': {
      const total = totalCents(order, rules.catalog);
      return total > rules.paymentLimitCents
        ? `payment refused: the total ${total} cents is over the limit of ${rules.paymentLimitCents}`
        : undefined;
    }
    default:
      return undefined;
  }
}

/** The order's total in cents (every sku must be in the catalogue). */
export function totalCents(order: OrderPlaced, catalog: OrderCatalog): number {
  return order.items.reduce(
    (sum, item) => sum + item.quantity * entryOf(catalog, item.sku)!.priceCents,
    0,
  );
}

/**
 * The catalogue's own entry for `sku`, or undefined. Not `sku in catalog` nor `catalog[sku]`:
 * those find Object.prototype's members, so an order of "constructor" passed every step with a
 * NaN price, and a NaN total passes any payment limit.
 */
function entryOf(catalog: OrderCatalog, sku: string): OrderCatalog[string] | undefined {
  return Object.hasOwn(catalog, sku) ? catalog[sku] : undefined;
}

/** Units ordered per sku: an sku listed twice counts once with both quantities. */
function quantities(order: OrderPlaced): Map<string, number> {
  const bySku = new Map<string, number>();
  for (const item of order.items) bySku.set(item.sku, (bySku.get(item.sku) ?? 0) + item.quantity);
  return bySku;
}

/**
 * The event the task's next step produces, given the status folded from its stored events
 * (undefined: none stored), or undefined when the task has finished. Pure: `now` is the
 * event's timestamp. STARTED (step 0, 0 %), then PROGRESS at 25/50/75 % for the first three
 * steps and COMPLETED at 100 % for 'complete'; a step that fails yields FAILED with its reason,
 * keeping the percentage reached before it.
 */
export function nextProgressEvent(
  order: OrderPlaced,
  rules: OrderRules,
  status: ProgressStatus | undefined,
  now: Date,
): ProgressEvent | undefined {
  const base = { taskId: order.taskId, userId: order.userId, totalSteps: TOTAL_STEPS };
  const timestamp = now.toISOString();
  if (!status)
    return {
      ...base,
      eventId: progressEventId(order.taskId, 0, 'STARTED'),
      currentStep: 0,
      percentage: 0,
      stepName: 'started',
      eventType: 'STARTED',
      timestamp,
    };
  if (isFinished(status)) return undefined;
  const step = status.currentStep + 1;
  const stepName = ORDER_STEPS[step - 1]!;
  const reason = failureAt(order, rules, step);
  if (reason !== undefined)
    return {
      ...base,
      eventId: progressEventId(order.taskId, step, 'FAILED'),
      currentStep: step,
      percentage: status.percentage,
      stepName,
      eventType: 'FAILED',
      timestamp,
      reason,
    };
  const eventType = step === TOTAL_STEPS ? 'COMPLETED' : 'PROGRESS';
  return {
    ...base,
    eventId: progressEventId(order.taskId, step, eventType),
    currentStep: step,
    percentage: Math.round((step * 100) / TOTAL_STEPS),
    stepName,
    eventType,
    timestamp,
  };
}

/**
 * The id of retention's FAILED "expired" at `step`: `<taskId>:<step>:EXPIRED`. Stable, so two
 * instances expiring the same task store it once; not the step's own FAILED id, so an expiry and
 * the order failing for its own reason at that step (a replay racing retention) are two events
 * that conflict at the version, not one id the loser's append skips as already stored — which
 * had it tell and count a FAILED that was not the one stored.
 */
export function expiredEventId(taskId: string, step: number): string {
  return `${taskId}:${step}:EXPIRED`;
}

/**
 * The FAILED event that ends a task retention found unfinished (ADR 015, session 39): the step
 * after the last one stored failed with `reason`, keeping the percentage reached, as a step
 * failing for the order's own reasons does. Its id is expiredEventId's. `status` must not be
 * finished.
 */
export function expiredProgressEvent(
  status: ProgressStatus,
  reason: string,
  now: Date,
): ProgressEvent {
  const step = Math.min(status.currentStep + 1, TOTAL_STEPS);
  return {
    eventId: expiredEventId(status.taskId, step),
    taskId: status.taskId,
    userId: status.userId,
    totalSteps: status.totalSteps,
    currentStep: step,
    percentage: status.percentage,
    stepName: ORDER_STEPS[step - 1]!,
    eventType: 'FAILED',
    timestamp: now.toISOString(),
    reason,
  };
}

/**
 * The FAILED event that ends an order dead-lettered before its first step and never replayed
 * (retention, when it purges the letter): the task's first event, at step 0 (0 %, `started`),
 * with `reason`. Its id is expiredEventId's at step 0, so instances racing store it once.
 */
export function unstartedProgressEvent(
  order: Pick<OrderPlaced, 'taskId' | 'userId'>,
  reason: string,
  now: Date,
): ProgressEvent {
  return {
    eventId: expiredEventId(order.taskId, 0),
    taskId: order.taskId,
    userId: order.userId,
    totalSteps: TOTAL_STEPS,
    currentStep: 0,
    percentage: 0,
    stepName: 'started',
    eventType: 'FAILED',
    timestamp: now.toISOString(),
    reason,
  };
}
