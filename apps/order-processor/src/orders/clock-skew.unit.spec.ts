import { acceptedProgressStatus, contractsSerializer, type OrderPlaced } from '@causeway/contracts';
import { InMemoryEventStore } from '@causeway/cqrs-core';
import {
  InMemoryNotificationLog,
  InMemoryProgressStatuses,
  taskPositionOf,
  type TaskPosition,
} from '@causeway/platform';
import { OrderProcessor } from './order.processor';

const T = Date.parse('2026-11-25T12:00:00.000Z');

function order(taskId: string, placedAt: number): OrderPlaced {
  return {
    taskId,
    userId: 'ash',
    items: [{ sku: 'apple', quantity: 1 }],
    placedAt: new Date(placedAt).toISOString(),
  };
}

describe("a user's task list when order-processor's clock is behind command-api's", () => {
  it('pages on without listing a task twice: its steps never move it back behind its ACCEPTED', async () => {
    const statuses = new InMemoryProgressStatuses({ ttlMs: 86_400_000, now: () => T });
    // command-api accepted two orders (its clock): ACCEPTED at their placedAt.
    const a = order('t-a', T);
    const b = order('t-b', T - 1_000);
    for (const placed of [a, b]) await statuses.apply(acceptedProgressStatus(placed));
    // order-processor's clock is 3 s behind.
    const processor = new OrderProcessor({
      store: new InMemoryEventStore({ serializer: contractsSerializer() }),
      statuses,
      notifications: new InMemoryNotificationLog(),
      rules: { catalog: { apple: { stock: 5, priceCents: 100 } }, paymentLimitCents: 10_000 },
      serverId: 'op-1',
      now: () => new Date(T - 3_000),
      stepDelayMs: 0,
    });

    // The user reads a page of one task; order A runs to its end; the user pages on.
    const listed: string[] = [];
    let before: TaskPosition | undefined;
    const [first] = await statuses.ofUser('ash', 1);
    listed.push(first!.taskId);
    before = taskPositionOf(first!);
    await processor.handle(a);
    for (;;) {
      const [next] = await statuses.ofUser('ash', 1, before);
      if (!next) break;
      listed.push(next.taskId);
      before = taskPositionOf(next);
    }
    expect(listed).toEqual(['t-a', 't-b']);
    // Its steps are stamped no earlier than its acceptance, in order: /history stays ordered.
    expect(await statuses.get('t-a')).toMatchObject({ status: 'COMPLETED', updatedAt: a.placedAt });
  });
});

describe("an order whose placedAt is far ahead of order-processor's clock", () => {
  it('has its steps stamped at most a minute ahead, with a warning, so retention still deletes the task', async () => {
    // A review (session 42): steps were stamped no earlier than placedAt, whatever its distance;
    // a placedAt a day ahead (command-api's clock wrong, a forged order) stamped every step, and
    // so the retention index's entry, a day ahead: the task outlived its TTL by that day.
    const statuses = new InMemoryProgressStatuses({ ttlMs: 86_400_000, now: () => T });
    const ahead = order('t-ahead', T + 86_400_000);
    await statuses.apply(acceptedProgressStatus(ahead));
    const stamped: string[] = [];
    const warnings: string[] = [];
    const processor = new OrderProcessor({
      store: new InMemoryEventStore({ serializer: contractsSerializer() }),
      statuses,
      notifications: new InMemoryNotificationLog(),
      rules: { catalog: { apple: { stock: 5, priceCents: 100 } }, paymentLimitCents: 10_000 },
      serverId: 'op-1',
      now: () => new Date(T),
      stepDelayMs: 0,
      // What the app touches the retention index with.
      onEvent: (event) => void stamped.push(event.timestamp),
      onWarning: (message) => warnings.push(message),
    });

    await processor.handle(ahead);

    const bound = new Date(T + 60_000).toISOString();
    expect(stamped.length).toBeGreaterThan(1);
    expect(new Set(stamped)).toEqual(new Set([bound]));
    expect(await statuses.get('t-ahead')).toMatchObject({ status: 'COMPLETED', updatedAt: bound });
    expect(warnings[0]).toMatch(/task t-ahead: .*placedAt.* more than 60000 ms ahead/);
  });
});
