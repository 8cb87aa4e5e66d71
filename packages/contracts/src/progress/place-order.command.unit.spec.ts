import { OrderPlaced, TaskId } from './place-order.command';

describe('OrderPlaced and TaskId', () => {
  const order = {
    taskId: '3f2c9a1e-0b7d-4c55-9f2a-6c1d8e4b7a10',
    userId: 'ash',
    items: [{ sku: 'tea', quantity: 1 }],
    placedAt: '2026-11-25T10:00:00.000Z',
  };

  it('accepts a UUID, as command-api makes them, and any id of 1 to 128 characters', () => {
    expect(OrderPlaced.parse(order)).toEqual(order);
    expect(TaskId.parse('x'.repeat(128))).toBe('x'.repeat(128));
  });

  // Every store keys the task's stream (`progress-<taskId>`) by it: these it cannot.
  it.each([
    ['empty', '', 'must not be empty'],
    ['of 129 characters', 'x'.repeat(129), 'must be at most 128 characters'],
    ['with a NUL', 'a\u0000b', 'must not contain a NUL character'],
    ['with a lone surrogate', 'x\ud800', 'must be well-formed Unicode (a lone surrogate is not)'],
  ])('refuses a task id %s, saying why', (_, taskId, message) => {
    expect(TaskId.safeParse(taskId).error?.issues[0]?.message).toBe(message);
    const placed = OrderPlaced.safeParse({ ...order, taskId });
    expect(placed.error?.issues[0]).toMatchObject({ path: ['taskId'], message });
  });
});
