import { z } from 'zod';
import { type DeadLetterQueue, type NewDeadLetter } from '../dead-letters/dead-letter-queue.port';
import { SerializerRegistry } from '../messages/serializer.registry';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { testEnvelope } from './envelope.fixture';

function letter(
  topic: string,
  n: number,
  errorName = 'Error',
  reason = `failed ${n}`,
): NewDeadLetter {
  return {
    envelope: testEnvelope(
      'Dead',
      { n },
      { aggregateId: `a${n}`, metadata: { timestamp: new Date().toISOString(), retryCount: 3 } },
    ),
    originalTopic: topic,
    position: `${n}-0`,
    group: 'g',
    handler: 'h',
    reason,
    errorName,
    stack: `${errorName}: ${reason}\n    at handler`,
    attempts: 3,
    deadLetteredAt: new Date().toISOString(),
  };
}

/** The conformance suite of dead-letter queues (in-memory, Redis). */
export function describeDeadLetterQueueConformance(
  name: string,
  factory: () => Promise<DeadLetterQueue>,
): void {
  describe(`${name} dead-letter queue conformance`, () => {
    let queue: DeadLetterQueue;
    beforeEach(async () => {
      queue = await factory();
    });

    it('stores letters with every fact and lists them with filters', async () => {
      await queue.add(letter('events.A', 1, 'TypeError', 'x is undefined'));
      await queue.add(letter('events.A', 2, 'PermanentError', 'trainer not found'));
      await queue.add(letter('events.B', 3, 'PermanentError', 'bad input'));
      const all = await queue.list();
      expect(all).toHaveLength(3);
      expect(all[0]).toMatchObject({
        originalTopic: 'events.A',
        handler: 'h',
        attempts: 3,
        reason: 'x is undefined',
        errorName: 'TypeError',
        position: '1-0',
      });
      expect(all[0]!.stack).toContain('at handler');
      expect(all[0]!.envelope?.data).toEqual({ n: 1 });
      expect(new Set(all.map((l) => l.id)).size).toBe(3);
      expect(
        (await queue.list({ originalTopic: 'events.A' })).map((l) => l.envelope?.data),
      ).toEqual([{ n: 1 }, { n: 2 }]);
      expect((await queue.list({ reason: 'not found' })).map((l) => l.originalTopic)).toEqual([
        'events.A',
      ]);
      expect(await queue.list({ limit: 2 })).toHaveLength(2);
    });

    it('counts per topic and per reason', async () => {
      await queue.add(letter('events.A', 1, 'TypeError'));
      await queue.add(letter('events.A', 2, 'PermanentError'));
      await queue.add(letter('events.B', 3, 'PermanentError'));
      expect(await queue.stats()).toEqual({
        total: 3,
        byTopic: { 'events.A': 2, 'events.B': 1 },
        byReason: { TypeError: 1, PermanentError: 2 },
      });
    });

    it('replays one or all to the original topic with attempts reset, then removes them', async () => {
      const broker = new InMemoryBroker({
        serializer: new SerializerRegistry().register('Dead', z.object({ n: z.number() })),
      });
      const received: unknown[] = [];
      await broker
        .subscriber()
        .subscribe(['events.A', 'events.B'], { group: 'g', consumer: 'c' }, async (d) => {
          received.push({
            topic: d.topic,
            data: d.envelope.data,
            retryCount: d.envelope.metadata.retryCount,
            attempt: d.attempt,
          });
        });
      const first = await queue.add(letter('events.A', 1));
      await queue.add(letter('events.A', 2));
      await queue.add(letter('events.B', 3));
      await queue.add({ ...letter('events.B', 4), envelope: undefined, raw: '{garbage' });

      expect(await queue.replay({ ids: [first] }, broker)).toEqual({
        replayed: 1,
        skipped: 0,
        failed: [],
      });
      expect(await queue.replay({}, broker)).toEqual({ replayed: 2, skipped: 1, failed: [] });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(received).toEqual([
        { topic: 'events.A', data: { n: 1 }, retryCount: 0, attempt: 1 },
        { topic: 'events.A', data: { n: 2 }, retryCount: 0, attempt: 1 },
        { topic: 'events.B', data: { n: 3 }, retryCount: 0, attempt: 1 },
      ]);
      expect((await queue.list()).map((l) => l.raw)).toEqual(['{garbage']);
    });

    it('replays past a letter it cannot publish, keeps that one and reports why', async () => {
      const broker = new InMemoryBroker({
        serializer: new SerializerRegistry().register('Dead', z.object({ n: z.number() })),
      });
      const received: unknown[] = [];
      await broker
        .subscriber()
        .subscribe(['events.A'], { group: 'g', consumer: 'c' }, async (d) => {
          received.push(d.envelope.data);
        });
      await queue.add(letter('events.A', 1));
      await queue.add(letter('events.A', 2));
      const unknown = letter('events.A', 3);
      const bad = await queue.add({
        ...unknown,
        envelope: { ...unknown.envelope!, type: 'NoSuchType' },
      });
      await queue.add(letter('events.A', 4));

      const result = await queue.replay({ originalTopic: 'events.A' }, broker);
      expect(result).toEqual({
        replayed: 3,
        skipped: 0,
        failed: [{ id: bad, reason: expect.stringContaining('NoSuchType') }],
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(received).toEqual([{ n: 1 }, { n: 2 }, { n: 4 }]);
      expect((await queue.list()).map((l) => l.id)).toEqual([bad]);
      // The next replay of the topic fails at the same letter again, and only there.
      expect(await queue.replay({ originalTopic: 'events.A' }, broker)).toMatchObject({
        replayed: 0,
        failed: [{ id: bad }],
      });
    });

    it('lists, replays and purges exactly the letters named by id, also with a filter', async () => {
      const a1 = await queue.add(letter('events.A', 1));
      const a2 = await queue.add(letter('events.A', 2));
      const a3 = await queue.add(letter('events.A', 3));
      const b4 = await queue.add(letter('events.B', 4));
      expect((await queue.list({ ids: [a2, b4] })).map((l) => l.id)).toEqual([a2, b4]);
      expect(await queue.list({ ids: [b4], originalTopic: 'events.A' })).toEqual([]);
      expect(await queue.purge({ ids: [a1], originalTopic: 'events.A' })).toBe(1);
      expect((await queue.list()).map((l) => l.id)).toEqual([a2, a3, b4]);
      const broker = new InMemoryBroker({
        serializer: new SerializerRegistry().register('Dead', z.object({ n: z.number() })),
      });
      expect(await queue.replay({ ids: [a3] }, broker)).toEqual({
        replayed: 1,
        skipped: 0,
        failed: [],
      });
      expect((await queue.list()).map((l) => l.id)).toEqual([a2, b4]);
    });

    it('purges by filter or entirely', async () => {
      await queue.add(letter('events.A', 1));
      await queue.add(letter('events.B', 2));
      await queue.add(letter('events.B', 3));
      expect(await queue.purge({ originalTopic: 'events.B' })).toBe(2);
      expect((await queue.stats()).total).toBe(1);
      expect(await queue.purge({})).toBe(1);
      expect(await queue.list()).toEqual([]);
    });
  });
}
