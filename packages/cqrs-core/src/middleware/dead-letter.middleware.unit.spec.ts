import { z } from 'zod';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { InMemoryDeadLetterQueue } from '../dead-letters/in-memory.dead-letter-queue';
import { PermanentError, DeferredError } from '../router/handler.errors';
import { type HandlerInfo } from '../router/handler';
import { compose } from '../router/handler';
import { testDelivery, testEnvelope } from '../testing/envelope.fixture';
import { conformanceSerializer } from '../testing/transport.conformance';
import { deadLetter, DeadLettered } from './dead-letter.middleware';
import { retry } from './retry.middleware';

const info: HandlerInfo = { name: 'projector', topics: ['events.T'], group: 'g' };

describe('dead-letter middleware', () => {
  it('stores an exhausted message with reason, stack, handler, attempts, topic and position, and acknowledges it', async () => {
    const queue = new InMemoryDeadLetterQueue();
    const handler = compose(
      [deadLetter({ queue }), retry({ maxAttempts: 3, initialDelayMs: 1 })],
      async () => {
        throw new TypeError('cannot read x of undefined');
      },
      info,
    );
    const envelope = testEnvelope('T', { a: 1 });
    const result = await handler(testDelivery(envelope, { topic: 'events.T', position: '42-0' }));
    expect(result).toBeInstanceOf(DeadLettered);
    const [letter] = await queue.list();
    expect(letter).toMatchObject({
      envelope,
      originalTopic: 'events.T',
      position: '42-0',
      group: 'test-group',
      handler: 'projector',
      reason: 'cannot read x of undefined',
      errorName: 'TypeError',
      attempts: 3,
    });
    expect(letter!.stack).toContain('TypeError');
  });

  it("keeps the error's causes in the letter's stack: a wrapped driver error is not lost", async () => {
    const queue = new InMemoryDeadLetterQueue();
    const root = new RangeError('E11000 duplicate key: orders.o-1');
    const handler = compose(
      [deadLetter({ queue, onDeadLetter: () => {} }), retry({ maxAttempts: 2, initialDelayMs: 1 })],
      async () => {
        throw new Error('could not save order o-1', {
          cause: new Error('write refused', { cause: root }),
        });
      },
      info,
    );
    await handler(testDelivery(testEnvelope('T', {}), { topic: 'events.T' }));
    const [letter] = await queue.list();
    expect(letter!.reason).toBe('could not save order o-1');
    const stack = letter!.stack!;
    expect(stack).toMatch(/^Error: could not save order o-1\n {4}at /);
    expect(stack).toContain('\nCaused by: Error: write refused\n    at ');
    expect(stack).toContain('\nCaused by: RangeError: E11000 duplicate key: orders.o-1\n    at ');
    // A cause that is no Error, and a cycle, end the chain without hanging.
    const looped = new Error('outer');
    const inner = new Error('inner', { cause: looped });
    (looped as { cause?: unknown }).cause = inner;
    const other = compose(
      [deadLetter({ queue, onDeadLetter: () => {} })],
      async () => {
        throw new PermanentError('refused', { cause: { code: 503 } });
      },
      info,
    );
    await other(testDelivery(testEnvelope('T', { n: 2 }), { topic: 'events.T' }));
    const cyclic = compose(
      [deadLetter({ queue, onDeadLetter: () => {} }), retry({ maxAttempts: 1 })],
      async () => {
        throw looped;
      },
      { ...info, name: 'cyclic' },
    );
    await cyclic(testDelivery(testEnvelope('T', { n: 3 }), { topic: 'events.T' }));
    const letters = await queue.list();
    expect(letters[1]!.stack).toContain('\nCaused by: {"code":503}');
    expect(letters[2]?.stack?.match(/Caused by/g)).toHaveLength(1);
  });

  it("records in the letter's envelope metadata the retries made and allowed (S1-2 retryCount, maxRetries)", async () => {
    const queue = new InMemoryDeadLetterQueue();
    const failing = (error: Error, options: { maxAttempts?: number; maxDeliveries?: number }) =>
      compose(
        [
          deadLetter({ queue, maxDeliveries: options.maxDeliveries, onDeadLetter: () => {} }),
          retry({ maxAttempts: options.maxAttempts, initialDelayMs: 1 }),
        ],
        async () => {
          throw error;
        },
        info,
      );
    const metadataOf = async (id: string) =>
      (await queue.list()).find((letter) => letter.envelope?.messageId === id)!.envelope!.metadata;

    const exhausted = testEnvelope('T', { n: 1 });
    await failing(new Error('down'), { maxAttempts: 4 })(testDelivery(exhausted));
    expect(await metadataOf(exhausted.messageId)).toMatchObject({ retryCount: 3, maxRetries: 3 });

    const permanent = testEnvelope('T', { n: 2 });
    await failing(new PermanentError('refused'), { maxAttempts: 4 })(testDelivery(permanent));
    const refused = await metadataOf(permanent.messageId);
    expect(refused.retryCount).toBe(0); // not retried: a permanent error
    expect(refused).not.toHaveProperty('maxRetries'); // retry never ran out

    const crashing = testEnvelope('T', { n: 3 });
    await failing(new Error('never'), { maxDeliveries: 2 })(testDelivery(crashing, { attempt: 3 }));
    expect(await metadataOf(crashing.messageId)).toMatchObject({ retryCount: 2, maxRetries: 1 });

    // The delivered envelope is left as it was (a letter holds its own copy), the rest kept.
    expect(exhausted.metadata).not.toHaveProperty('retryCount');
    expect(await metadataOf(exhausted.messageId)).toMatchObject(exhausted.metadata);

    // A replayed letter (retryCount reset, its former limit kept) refused for good this time:
    // its letter has no limit that ran out.
    const replayed = testEnvelope(
      'T',
      { n: 4 },
      { metadata: { timestamp: new Date().toISOString(), retryCount: 0, maxRetries: 3 } },
    );
    await failing(new PermanentError('refused'), { maxAttempts: 4 })(testDelivery(replayed));
    const again = await metadataOf(replayed.messageId);
    expect(again.retryCount).toBe(0);
    expect(again).not.toHaveProperty('maxRetries');
  });

  it('warns of the first dead letter of a handler by default, then at most every 10 s, and keeps each one', async () => {
    // Observed, not replaced: jest's sandboxed `process` does not pass warnings to listeners.
    const warn = jest.spyOn(process, 'emitWarning');
    try {
      const queue = new InMemoryDeadLetterQueue();
      const handler = compose(
        [deadLetter({ queue })],
        async () => {
          throw new PermanentError('account closed');
        },
        info,
      );
      const first = testEnvelope('T', { a: 1 });
      await handler(testDelivery(first, { topic: 'events.T', position: '7-0' }));
      await handler(testDelivery(testEnvelope('T', { a: 2 }), { topic: 'events.T' }));
      const letters = await queue.list();
      expect(letters).toHaveLength(2);
      const ours = warn.mock.calls.filter(
        ([, options]) => (options as { type?: string })?.type === 'CausewayDeadLetterWarning',
      );
      expect(ours.map(([message]) => String(message))).toEqual([
        `T ${first.messageId} on events.T dead-lettered by handler projector (group test-group) ` +
          `after 1 attempt(s): account closed. Letter ${letters[0]!.id}: list, replay or purge ` +
          'it with the dead-letter admin API or CLI',
      ]);
    } finally {
      warn.mockRestore();
    }
  });

  it('keeps a stored letter acknowledged when onDeadLetter throws', async () => {
    const queue = new InMemoryDeadLetterQueue();
    const seen: string[] = [];
    const handler = compose(
      [
        deadLetter({
          queue,
          onDeadLetter: (event) => {
            seen.push(`${event.handler} ${event.type} ${event.attempts} ${event.letterId}`);
            throw new Error('log shipper down');
          },
        }),
      ],
      async () => {
        throw new PermanentError('bad');
      },
      info,
    );
    const result = await handler(testDelivery(testEnvelope('T', {}), { topic: 'events.T' }));
    expect(result).toBeInstanceOf(DeadLettered);
    const [letter] = await queue.list();
    expect(seen).toEqual([`projector T 1 ${letter!.id}`]);
  });

  it('names the error as the command sender gets it: by its class when it kept the name Error', async () => {
    class MyErr extends Error {}
    const queue = new InMemoryDeadLetterQueue();
    const handler = compose(
      [deadLetter({ queue }), retry({ maxAttempts: 2, initialDelayMs: 1 })],
      async () => {
        throw new MyErr('mine');
      },
      { ...info, name: 'mine' },
    );
    await handler(testDelivery(testEnvelope('T', { a: 1 })));
    expect(await queue.list()).toEqual([
      expect.objectContaining({ errorName: 'MyErr', reason: 'mine' }),
    ]);
  });

  it('with maxDeliveries, dead-letters a message delivered too often without running its handler', async () => {
    const queue = new InMemoryDeadLetterQueue();
    let calls = 0;
    const handler = compose(
      [deadLetter({ queue, maxDeliveries: 5 }), retry({ maxAttempts: 3, initialDelayMs: 1 })],
      async () => {
        calls++; // a handler that kills its consumer never returns: only the count shows it
      },
      info,
    );
    const envelope = testEnvelope('T', { a: 1 });
    await expect(handler(testDelivery(envelope, { attempt: 5 }))).resolves.toBeUndefined();
    expect(calls).toBe(1);
    const result = await handler(testDelivery(envelope, { attempt: 6 }));
    expect(result).toBeInstanceOf(DeadLettered);
    expect(calls).toBe(1);
    expect(await queue.list()).toEqual([
      expect.objectContaining({
        errorName: 'TooManyDeliveriesError',
        attempts: 6,
        reason: expect.stringContaining('delivered 6 times (more than maxDeliveries 5)'),
      }),
    ]);
  });

  it.each([0, -1, 1.5, Number.NaN])(
    'refuses maxDeliveries %p at construction, naming it (it would dead-letter every message or none)',
    (maxDeliveries) => {
      const create = () => deadLetter({ queue: new InMemoryDeadLetterQueue(), maxDeliveries });
      expect(create).toThrow(RangeError);
      expect(create).toThrow(
        `deadLetter: maxDeliveries must be a positive integer, got ${maxDeliveries}`,
      );
    },
  );

  it('counts the attempts made before a permanent error ended the retries', async () => {
    const queue = new InMemoryDeadLetterQueue();
    const seen: number[] = [];
    let calls = 0;
    const handler = compose(
      [
        deadLetter({ queue, onDeadLetter: (event) => seen.push(event.attempts) }),
        retry({ maxAttempts: 5, initialDelayMs: 1 }),
      ],
      async () => {
        calls++;
        if (calls < 3) throw new Error('connection reset');
        throw new PermanentError('order o-1 not found');
      },
      info,
    );
    expect(await handler(testDelivery(testEnvelope('T', {})))).toBeInstanceOf(DeadLettered);
    expect(calls).toBe(3);
    const [letter] = await queue.list();
    expect(letter).toMatchObject({
      attempts: 3,
      reason: 'order o-1 not found',
      errorName: 'PermanentError',
    });
    expect(letter!.envelope!.metadata.retryCount).toBe(2);
    expect(seen).toEqual([3]);
  });

  it('dead-letters a permanent error at once and lets a deferred one through', async () => {
    const queue = new InMemoryDeadLetterQueue();
    let calls = 0;
    const permanent = compose(
      [deadLetter({ queue }), retry({ initialDelayMs: 1 })],
      async () => {
        calls++;
        throw new PermanentError('trainer not found');
      },
      info,
    );
    await permanent(testDelivery(testEnvelope('T', {})));
    expect(calls).toBe(1);
    expect((await queue.list())[0]).toMatchObject({ attempts: 1, errorName: 'PermanentError' });

    const deferred = compose(
      [deadLetter({ queue })],
      async () => {
        throw new DeferredError('circuit open');
      },
      info,
    );
    await expect(deferred(testDelivery(testEnvelope('T', {})))).rejects.toBeInstanceOf(
      DeferredError,
    );
    expect(await queue.list()).toHaveLength(1);
  });

  it('lists with filters, counts per topic and reason, replays (attempts reset) and purges', async () => {
    const queue = new InMemoryDeadLetterQueue();
    const failing = (topic: string, error: Error) =>
      compose(
        [deadLetter({ queue }), retry({ maxAttempts: 1 })],
        async () => Promise.reject(error),
        {
          ...info,
          topics: [topic],
        },
      );
    await failing(
      'events.A',
      new PermanentError('bad a'),
    )(testDelivery(testEnvelope('A', { n: 1 }), { topic: 'events.A' }));
    await failing(
      'events.A',
      new RangeError('bad range'),
    )(testDelivery(testEnvelope('A', { n: 2 }), { topic: 'events.A' }));
    await failing(
      'events.B',
      new PermanentError('bad b'),
    )(testDelivery(testEnvelope('B', { n: 3 }), { topic: 'events.B' }));

    expect(await queue.stats()).toEqual({
      total: 3,
      byTopic: { 'events.A': 2, 'events.B': 1 },
      byReason: { PermanentError: 2, RangeError: 1 },
    });
    expect((await queue.list({ originalTopic: 'events.A' })).map((l) => l.reason)).toEqual([
      'bad a',
      'bad range',
    ]);
    expect(await queue.list({ reason: 'range' })).toHaveLength(1);

    const broker = new InMemoryBroker({
      serializer: conformanceSerializer().register('A', z.object({ n: z.number() })),
    });
    const replayed: unknown[] = [];
    await broker.subscriber().subscribe(['events.A'], { group: 'g', consumer: 'c' }, async (d) => {
      replayed.push([d.envelope.data, d.envelope.metadata.retryCount, d.attempt]);
    });
    const [first] = await queue.list({ originalTopic: 'events.A' });
    expect(await queue.replay({ ids: [first!.id] }, broker)).toEqual({
      replayed: 1,
      skipped: 0,
      skips: [],
      failed: [],
      failures: 0,
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(replayed).toEqual([[{ n: 1 }, 0, 1]]);
    expect((await queue.stats()).total).toBe(2);

    expect(await queue.purge({ originalTopic: 'events.B' })).toBe(1);
    expect(await queue.purge({})).toBe(1);
    expect((await queue.stats()).total).toBe(0);
  });
});

it('stores a reason as text when the thrown value has no string message, so reason filters work', async () => {
  const queue = new InMemoryDeadLetterQueue();
  const handler = deadLetter({ queue, classify: () => 'permanent', onDeadLetter: () => undefined })(
    async () => {
      throw { name: 'ApiError', message: { code: 503 } }; // e.g. a client library's rejection
    },
    { name: 'h', topics: ['t'], group: 'g' },
  );
  await handler({
    topic: 't',
    envelope: testEnvelope('T', { n: 1 }),
    attempt: 1,
    position: '1',
    group: 'g',
  });
  const [letter] = await queue.list();
  expect(letter).toMatchObject({ errorName: 'ApiError', reason: '{"code":503}' });
  expect(await queue.list({ reason: '503' })).toHaveLength(1);
  expect(await queue.list({ reason: 'ordinary' })).toEqual([]);
});
