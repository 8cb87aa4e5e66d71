import { type Decider } from '../domain/decider';
import { ConcurrencyConflictError } from '../event-store/event-store.errors';
import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { MessageFactory } from '../messages/message.factory';
import { runInMessageContext } from '../messages/message-context';
import { commandHandler, handleCommand } from './command.handler';
import { CompetingWriterStore } from '../../test/fixtures/competing-writer';
import {
  type TrainerCommand,
  type TrainerEvent,
  TrainerRetiredError,
  type TrainerState,
  move,
  trainerDecider,
} from '../../test/fixtures/trainer.domain';

// Against the real in-memory event store; the serializer round trip is part of every test.
const now = '2026-03-01T12:00:00.000Z';
const fast = { initialDelayMs: 1, maxDelayMs: 5 };

describe('handleCommand (decider style)', () => {
  it('reads, decides and appends with envelopes stamped for the stream', async () => {
    const store = new InMemoryEventStore();
    const result = await handleCommand(store, 'Trainer-ash', trainerDecider, move(2, 3, now), {
      aggregateType: 'Trainer',
    });
    expect(result).toEqual({
      newState: { x: 2, y: 3, moves: 1, retired: false },
      newEvents: [{ type: 'TrainerMoved', data: { x: 2, y: 3, at: now } }],
      nextExpectedVersion: 1,
      attempts: 1,
      positions: [1],
    });
    const [stored] = await store.readStream('Trainer-ash');
    expect(stored).toMatchObject({
      type: 'TrainerMoved',
      aggregateId: 'Trainer-ash',
      aggregateType: 'Trainer',
      version: 1,
      data: { x: 2, y: 3, at: now },
      metadata: { category: 'event', priority: 'normal' },
    });

    const second = await handleCommand(store, 'Trainer-ash', trainerDecider, move(1, 1, now));
    expect(second.newState).toEqual({ x: 3, y: 4, moves: 2, retired: false });
    expect(second.nextExpectedVersion).toBe(2);
  });

  it('makes the events caused by the command being handled', async () => {
    const store = new InMemoryEventStore();
    const command = new MessageFactory().command('MoveTrainer', move(1, 1, now), {
      metadata: { correlationId: 'conv-9' },
    });
    await runInMessageContext(command, () =>
      handleCommand(store, 'Trainer-ash', trainerDecider, command.data),
    );
    const [stored] = await store.readStream('Trainer-ash');
    expect(stored?.metadata).toMatchObject({
      causationId: command.messageId,
      correlationId: 'conv-9',
    });
  });

  it('appends nothing when decide returns no events', async () => {
    const idle: Decider<TrainerCommand, TrainerEvent, TrainerState> = {
      ...trainerDecider,
      decide: () => [],
    };
    const store = new InMemoryEventStore();
    const result = await handleCommand(store, 'Trainer-ash', idle, move(1, 1, now));
    expect(result.nextExpectedVersion).toBe(0);
    expect(await store.readStream('Trainer-ash')).toEqual([]);
  });

  it('does not retry a domain error', async () => {
    const store = new InMemoryEventStore();
    await handleCommand(store, 'Trainer-ash', trainerDecider, {
      type: 'RetireTrainer',
      data: {},
      metadata: { now },
    });
    let decisions = 0;
    const counting = {
      ...trainerDecider,
      decide: (c: TrainerCommand, s: TrainerState) => (decisions++, trainerDecider.decide(c, s)),
    };
    await expect(
      handleCommand(store, 'Trainer-ash', counting, move(1, 1, now)),
    ).rejects.toBeInstanceOf(TrainerRetiredError);
    expect(decisions).toBe(1);
  });

  it('retries a concurrent-save conflict: reloads, decides again on the new state, appends', async () => {
    const store = new InMemoryEventStore();
    await handleCommand(store, 'Trainer-ash', trainerDecider, move(1, 1, now));
    const racing = new CompetingWriterStore(store, 'Trainer-ash', 2);
    const retries: number[] = [];
    const result = await handleCommand(racing, 'Trainer-ash', trainerDecider, move(1, 0, now), {
      retry: { ...fast, onRetry: ({ attempt }) => retries.push(attempt) },
    });
    expect(result.attempts).toBe(3);
    expect(retries).toEqual([1, 2]);
    // Decided on the state after the competitor's moves (100,100), not on the stale (1,1).
    expect(result.newEvents).toEqual([{ type: 'TrainerMoved', data: { x: 101, y: 100, at: now } }]);
    expect(result.nextExpectedVersion).toBe(4);
    expect((await store.readStream('Trainer-ash')).map((e) => e.version)).toEqual([1, 2, 3, 4]);
  });

  it('lets concurrent commands on one stream all succeed, none lost', async () => {
    const store = new InMemoryEventStore();
    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        handleCommand(store, 'Trainer-ash', trainerDecider, move(1, 0, now), {
          retry: { ...fast, maxAttempts: 6 },
        }),
      ),
    );
    expect(results.map((r) => r.nextExpectedVersion).sort()).toEqual([1, 2, 3, 4, 5, 6]);
    const final = await handleCommand(store, 'Trainer-ash', trainerDecider, move(0, 0, now));
    expect(final.newState).toMatchObject({ x: 6, moves: 7 });
  });

  it('refuses a retry setting that cannot work when built, not at the first conflict', () => {
    const store = new InMemoryEventStore();
    // Checked at a conflict only, such a setting passed every test and failed in production.
    const refused: [object, string][] = [
      [{ maxAttempts: 0 }, 'maxAttempts must be an integer >= 1, got 0'],
      [{ maxAttempts: '3' }, 'maxAttempts must be an integer >= 1, got "3"'],
      [
        { initialDelayMs: NaN },
        'initialDelayMs must be a non-negative number of milliseconds, got NaN',
      ],
      [{ maxDelayMs: -1 }, 'maxDelayMs must be a non-negative number of milliseconds, got -1'],
    ];
    for (const [retry, message] of refused)
      expect(() => commandHandler(store, trainerDecider, { retry })).toThrow(
        new RangeError(message),
      );
    expect(() => commandHandler(store, trainerDecider, { retry: false })).not.toThrow();
    expect(() => commandHandler(store, trainerDecider, { retry: fast })).not.toThrow();
  });

  it('gives up with ConcurrencyConflictError when every attempt conflicts', async () => {
    const store = new InMemoryEventStore();
    const racing = new CompetingWriterStore(store, 'Trainer-ash', Number.POSITIVE_INFINITY);
    const error = await handleCommand(racing, 'Trainer-ash', trainerDecider, move(1, 0, now), {
      retry: { ...fast, maxAttempts: 3 },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConcurrencyConflictError);
    expect(error).toMatchObject({ streamId: 'Trainer-ash', expected: 2, actual: 3 });
    // Three competing events got in; ours never did.
    expect((await store.readStream('Trainer-ash')).map((e) => e.data)).toEqual(
      Array.from({ length: 3 }, () => ({ x: 100, y: 100, at: 'other' })),
    );
  });

  it('starts a soft-deleted stream afresh; its versions continue after the old ones', async () => {
    const store = new InMemoryEventStore();
    await handleCommand(store, 'Trainer-ash', trainerDecider, move(1, 1, now));
    await handleCommand(store, 'Trainer-ash', trainerDecider, move(1, 1, now));
    await store.deleteStream('Trainer-ash', { mode: 'soft' });
    const reborn = await handleCommand(store, 'Trainer-ash', trainerDecider, move(5, 5, now));
    expect(reborn.newState).toEqual({ x: 5, y: 5, moves: 1, retired: false });
    expect(reborn.nextExpectedVersion).toBe(3);
    const next = await handleCommand(store, 'Trainer-ash', trainerDecider, move(1, 0, now));
    expect(next).toMatchObject({ newState: { x: 6, moves: 2 }, nextExpectedVersion: 4 });
  });

  it('decides only on the version the caller saw (If-Match), and never retries that', async () => {
    const store = new InMemoryEventStore();
    await handleCommand(store, 'Trainer-ash', trainerDecider, move(1, 1, now));
    await handleCommand(store, 'Trainer-ash', trainerDecider, move(1, 1, now));
    const noise = await handleCommand(store, 'Trainer-bo', trainerDecider, move(1, 1, now));
    expect(noise.positions).toEqual([3]);
    // A client read version 1; someone moved the trainer since: its command is refused.
    const stale = await handleCommand(store, 'Trainer-ash', trainerDecider, move(5, 5, now), {
      expectedVersion: 1,
    }).catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(ConcurrencyConflictError);
    expect(stale).toMatchObject({ streamId: 'Trainer-ash', expected: 1, actual: 2 });
    expect(await store.readStream('Trainer-ash')).toHaveLength(2);
    // At the version it saw, it goes through; its events' positions come back.
    const fresh = await handleCommand(store, 'Trainer-ash', trainerDecider, move(5, 5, now), {
      expectedVersion: 2,
    });
    expect(fresh).toMatchObject({ nextExpectedVersion: 3, attempts: 1, positions: [4] });
    // 0: the stream must not exist yet.
    await expect(
      handleCommand(store, 'Trainer-ash', trainerDecider, move(1, 1, now), { expectedVersion: 0 }),
    ).rejects.toMatchObject({ expected: 0, actual: 3 });
    const created = await handleCommand(store, 'Trainer-cy', trainerDecider, move(1, 1, now), {
      expectedVersion: 0,
    });
    expect(created.nextExpectedVersion).toBe(1);
    // A conflict during the append is not retried either.
    const racing = new CompetingWriterStore(store, 'Trainer-cy', 1);
    await expect(
      handleCommand(racing, 'Trainer-cy', trainerDecider, move(1, 0, now), { expectedVersion: 1 }),
    ).rejects.toMatchObject({ expected: 1, actual: 2 });
    await expect(
      handleCommand(store, 'Trainer-ash', trainerDecider, move(1, 1, now), { expectedVersion: -1 }),
    ).rejects.toThrow('expectedVersion must be a non-negative integer, got -1');
  });

  it('fails at once on conflict with retry disabled', async () => {
    const racing = new CompetingWriterStore(new InMemoryEventStore(), 'Trainer-ash', 1);
    await expect(
      handleCommand(racing, 'Trainer-ash', trainerDecider, move(1, 0, now), { retry: false }),
    ).rejects.toBeInstanceOf(ConcurrencyConflictError);
  });
});
