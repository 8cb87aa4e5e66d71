import { Logger } from '@nestjs/common';
import {
  acceptedProgressStatus,
  contractsSerializer,
  ORDER_PLACED,
  OrderPlaced,
} from '@causeway/contracts';
import { type Envelope } from '@causeway/cqrs-core';
import { InMemoryProgressStatuses, ServerClock } from '@causeway/platform';
import { type CommandApiOptions } from '../command-api.options';
import { keyedRequest } from '../commands/command-api.fixture';
import { toProblem } from '../errors/error.mapping';
import { IdempotencyGate, idempotencyKeyErrors } from '../idempotency/idempotency.gate';
import { commandApiOpenApi } from '../openapi/openapi.document';
import { InMemoryIdempotencyStore } from '../idempotency/in-memory.idempotency-store';
import { orderOf } from '../rest/orders.controller';
import { OrderIntake } from './order.intake';

// /docs-json is read as loosely typed JSON.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

// What POST /api/v2/progress/orders publishes, and what its caller is answered.
describe('OrderIntake behind the IdempotencyGate', () => {
  const caller = { userId: 'ash', trainerIds: [] };
  const url = '/api/v2/progress/orders';
  const body = { items: [{ sku: 'potion', quantity: 2 }] };
  let published: { topic: string; envelope: Envelope }[];
  /** What each publish does in turn: undefined acks, 'hang' never answers, an Error rejects. */
  let outcomes: (undefined | 'hang' | Error)[];
  let intake: OrderIntake;
  let gate: IdempotencyGate;
  let statuses: InMemoryProgressStatuses;
  /** Runs once the broker stored an order, before the publish resolves. */
  let beforeAck: ((order: OrderPlaced) => Promise<void>) | undefined;

  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    published = [];
    outcomes = [];
    beforeAck = undefined;
    statuses = new InMemoryProgressStatuses({ ttlMs: 60_000 });
    const options = {
      serverId: 'api-1',
      idempotency: new InMemoryIdempotencyStore(),
      orders: {
        topic: 'test-order-events-v2',
        publishTimeoutMs: 50,
        statuses,
        publisher: {
          publish: async (topic: string, messages: readonly Envelope[]) => {
            const outcome = outcomes.shift();
            if (outcome === 'hang') return new Promise<void>(() => undefined);
            if (outcome) throw outcome;
            for (const envelope of messages) published.push({ topic, envelope });
            await beforeAck?.(messages[0]!.data as OrderPlaced);
          },
        },
      },
    } as unknown as CommandApiOptions;
    intake = new OrderIntake(options);
    gate = new IdempotencyGate(options);
  });
  afterEach(() => jest.restoreAllMocks());

  const place = (key: string | undefined, value: unknown = body) => {
    const request = keyedRequest(key ?? '', url, value);
    if (key === undefined) delete request.headers['idempotency-key'];
    return gate.run(caller, request, async () => ({
      status: 202,
      body: await intake.place(caller, orderOf(value), key !== undefined),
      storable: true,
    }));
  };
  const taskOf = (answer: { body?: unknown }) => (answer.body as { taskId: string }).taskId;

  it("publishes one OrderPlaced for the caller, keyed by its task, and answers the task's urls", async () => {
    const answer = await place(undefined);
    const taskId = taskOf(answer);
    expect(answer).toMatchObject({
      status: 202,
      body: {
        taskId,
        statusUrl: `/api/v2/progress/status/${taskId}`,
        subscribeUrl: `/api/v2/progress/subscribe/${taskId}`,
      },
    });
    expect(taskId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-/);
    expect(published).toHaveLength(1);
    const { topic, envelope } = published[0]!;
    expect(topic).toBe('test-order-events-v2');
    expect(envelope).toMatchObject({
      type: ORDER_PLACED,
      aggregateId: taskId,
      aggregateType: 'ProgressTask',
      data: { taskId, userId: 'ash', items: body.items },
    });
    // What the order consumer decodes: a valid OrderPlaced through the contracts' serializer.
    expect(OrderPlaced.parse(envelope.data)).toMatchObject({ taskId });
    const serializer = contractsSerializer();
    expect(() => serializer.serialize(envelope)).not.toThrow();
  });

  it('records the acknowledged order as ACCEPTED at 0 %, so its status is never unknown', async () => {
    const taskId = taskOf(await place(undefined));
    const placedAt = (published[0]!.envelope.data as OrderPlaced).placedAt;
    expect(await statuses.get(taskId)).toEqual({
      taskId,
      userId: 'ash',
      currentStep: 0,
      totalSteps: 4,
      percentage: 0,
      stepName: 'accepted',
      status: 'ACCEPTED',
      startedAt: placedAt,
      updatedAt: placedAt,
      eventCount: 0,
    });
  });

  it("never replaces order-processor's status, stored before Kafka's acknowledgement came", async () => {
    // The consumer may store STARTED before the intake hears the acknowledgement.
    beforeAck = async (order) => {
      await statuses.apply({
        ...acceptedProgressStatus(order),
        status: 'STARTED',
        stepName: 'started',
        eventCount: 1,
        lastEventId: `${order.taskId}:0:STARTED`,
      });
    };
    const taskId = taskOf(await place(undefined));
    expect(await statuses.get(taskId)).toMatchObject({ status: 'STARTED', eventCount: 1 });
  });

  it('records nothing for an order Kafka did not acknowledge', async () => {
    outcomes.push(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:1'));
    const refusal = await place(undefined).catch((error: unknown) => toProblem(error));
    const taskId = (refusal as unknown as { problem: { taskId: string } }).problem.taskId;
    expect(await statuses.get(taskId)).toBeUndefined();
  });

  it('gives every request without a key a task of its own', async () => {
    const first = await place(undefined);
    const second = await place(undefined);
    expect(taskOf(first)).not.toBe(taskOf(second));
    expect(published).toHaveLength(2);
  });

  it('answers a retried Idempotency-Key with the same task and publishes one order', async () => {
    const first = await place('order-1');
    const retry = await place('order-1');
    expect(retry).toMatchObject({ status: 202, replayed: true });
    expect(taskOf(retry)).toBe(taskOf(first));
    expect(published).toHaveLength(1);
  });

  it('publishes the same task again when a keyed order was not acknowledged', async () => {
    outcomes.push('hang');
    const refusal = await place('order-2').catch((error: unknown) => toProblem(error));
    expect(refusal).toMatchObject({
      status: 503,
      headers: { 'Retry-After': '1' },
      problem: { type: expect.stringMatching(/order-unconfirmed$/) },
    });
    const taskId = (refusal as unknown as { problem: { taskId: string } }).problem.taskId;
    const retry = await place('order-2');
    expect(taskOf(retry)).toBe(taskId);
    expect(published.map((item) => item.envelope.aggregateId)).toEqual([taskId]);
  });

  it('answers 503 with Retry-After when Kafka refuses the order, without the broker error', async () => {
    outcomes.push(new Error('Connection error: connect ECONNREFUSED kafka-7.internal:9092'));
    const refusal = await place(undefined).catch((error: unknown) => toProblem(error));
    expect(refusal).toMatchObject({ status: 503, headers: { 'Retry-After': '1' } });
    const { detail, taskId } = (
      refusal as unknown as { problem: { detail: string; taskId: string } }
    ).problem;
    // The client's error names broker hosts: callers get fixed text, the warning log the reason.
    expect(detail).toBe(
      `Kafka did not acknowledge the order for task ${taskId} in time; it may or may not have been placed: ` +
        `see GET /api/v2/progress/status/${taskId} before retrying (this request had no Idempotency-Key: a retry is a new order)`,
    );
    expect(published).toHaveLength(0);
  });

  it.each([
    [{}, 'items', 'is required'],
    [{ items: [] }, 'items', 'must list at least one item'],
    [{ items: [{ sku: 'potion', quantity: 0 }] }, 'items.0.quantity', ''],
    [{ items: [{ sku: 'potion', quantity: 1.5 }] }, 'items.0.quantity', 'must be an integer'],
    [{ items: [{ sku: '', quantity: 1 }] }, 'items.0.sku', 'must not be empty'],
    [
      { items: [{ sku: 'potion', quantity: 1 }], userId: 'misty' },
      'userId',
      'is not a known field',
    ],
    [
      { items: [{ sku: 'potion', quantity: 1, giftWrap: true }] },
      'items.0.giftWrap',
      'is not a known field',
    ],
    [null, '(body)', ''],
  ])('refuses %j with 400 naming %s, publishing nothing', async (value, field, message) => {
    const refusal = await place(undefined, value).catch((error: unknown) => toProblem(error));
    expect(refusal).toMatchObject({
      status: 400,
      problem: { type: expect.stringMatching(/invalid-request$/) },
    });
    const errors = (
      refusal as unknown as { problem: { errors: { field: string; message: string }[] } }
    ).problem.errors;
    expect(errors).toContainEqual({ field, message: message || expect.any(String) });
    expect(published).toHaveLength(0);
  });
  it('refuses an order before the server clock is read: 503 clock-unsynchronised, documented, nothing published', async () => {
    // A ServerClock whose start-up readings never come (Redis' TIME unanswered).
    const clock = new ServerClock({ read: () => new Promise<never>(() => undefined) });
    const unsynchronised = new OrderIntake({
      ...(intake as unknown as { options: CommandApiOptions }).options,
      clock,
    });
    const refusal = await unsynchronised
      .place(caller, orderOf(body))
      .catch((error: unknown) => toProblem(error));
    expect(refusal).toMatchObject({ status: 503, outcome: 'clock-unsynchronised' });
    expect(published).toHaveLength(0);
    // /docs-json names each 503 the endpoint answers.
    const operation = (commandApiOpenApi({ orders: true }) as unknown as Json).paths[url].post;
    expect(operation.responses['503'].description).toContain('`clock-unsynchronised`');
  });
});

// A bad body was a 400 naming the body alone, a malformed Idempotency-Key with a good body a 422
// `invalid-fields`: the status and type depended on which was wrong, and a client fixing the
// body then learnt of the key. Every bad input of the order is one 400 `invalid-request` now
// (ADR 015), naming the body's fields and the key together.
describe('orderOf: the body and the Idempotency-Key of an order', () => {
  const url = '/api/v2/progress/orders';
  const refusalOf = (body: unknown, key: string) => {
    try {
      orderOf(body, idempotencyKeyErrors(keyedRequest(key, url, body)));
      return undefined;
    } catch (error) {
      return toProblem(error);
    }
  };
  const keyError = {
    field: 'Idempotency-Key',
    message: 'must be 1 to 255 visible ASCII characters',
  };

  it('names both in one 400 when both are wrong', () => {
    const refusal = refusalOf({ items: [{ sku: 'potion', quantity: 0 }] }, 'a key with spaces');
    expect(refusal).toMatchObject({
      status: 400,
      problem: {
        type: expect.stringMatching(/\/invalid-request$/),
        errors: [expect.objectContaining({ field: 'items.0.quantity' }), keyError],
      },
    });
  });

  it('answers a malformed key with a good body with the same 400, naming the key', () => {
    const refusal = refusalOf({ items: [{ sku: 'potion', quantity: 1 }] }, 'a key with spaces');
    expect(refusal).toMatchObject({
      status: 400,
      problem: { type: expect.stringMatching(/\/invalid-request$/), errors: [keyError] },
    });
    // /docs-json says so: the 400 names the key, the 422 is a reused key only.
    const operation = (commandApiOpenApi({ orders: true }) as unknown as Json).paths[url].post;
    expect(operation.responses['400'].description).toContain('Idempotency-Key');
    expect(operation.responses['422'].description).not.toContain('invalid-fields');
  });

  it('lets a good body under a well-formed key through', () => {
    expect(refusalOf({ items: [{ sku: 'potion', quantity: 1 }] }, 'key-1')).toBeUndefined();
  });
});
