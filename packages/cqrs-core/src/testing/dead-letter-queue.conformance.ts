import { z } from 'zod';
import {
  type DeadLetter,
  DeadLetterCursorError,
  type DeadLetterFilter,
  type DeadLetterQueue,
  type NewDeadLetter,
  type RawPublisher,
  REPLAY_LISTED,
  REPLAY_STOP_AFTER,
} from '../dead-letters/dead-letter-queue.port';
import { poisonToDeadLetters } from '../dead-letters/poison.dead-letters';
import { type Envelope } from '../messages/envelope';
import { MessageTooLargeError } from '../messages/message.errors';
import { type MessageSerializer } from '../messages/serializer.port';
import { SerializerRegistry } from '../messages/serializer.registry';
import { deadLetter, type DeadLetterEvent } from '../middleware/dead-letter.middleware';
import { PermanentError } from '../router/handler.errors';
import { Router } from '../router/router';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { type Publisher, type Subscriber } from '../transport/transport.port';
import { testEnvelope } from './envelope.fixture';

/** A broker for the replay tests: a publisher (that can write raw text) and its subscribers. */
export interface DeadLetterReplayTransport {
  publisher: Publisher & RawPublisher;
  subscriber(): Subscriber;
  /** Closes the publisher, every subscriber made, and what they use. */
  close(): Promise<void>;
}

export interface DeadLetterQueueConformanceOptions {
  /**
   * The transport the replay-to-one-group test runs on (default: in-memory); a real one shows
   * that `replayFor` survives its wire. Topics are unique per call.
   */
  transport?: (serializer: MessageSerializer) => Promise<DeadLetterReplayTransport>;
}

/** What the paging tests give the factory: a small page, so that letters span several. */
export interface DeadLetterQueueSettings {
  pageSize?: number;
  /** The registry the queue widens `type` filters with (renamed types). */
  serializer?: MessageSerializer;
  /** A short claim lease (ms), for the test of a replayer that died holding claims. */
  claimLeaseMs?: number;
}

/** A publisher recording the `n` of each letter it publishes, after a turn of the event loop. */
function countingPublisher(published: number[]): Publisher {
  return {
    publish: async (_topic, envelopes) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      for (const envelope of envelopes) published.push((envelope.data as { n: number }).n);
    },
    close: async () => undefined,
  };
}

async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function deadSerializer(): SerializerRegistry {
  return new SerializerRegistry().register('Dead', z.object({ n: z.number() }));
}

/** A poison letter as poisonToDeadLetters stores it. */
function poison(topic: string, raw: string, reason: string, errorName: string): NewDeadLetter {
  return {
    raw,
    originalTopic: topic,
    position: '9-0',
    group: 'g',
    handler: '(decoder)',
    reason,
    errorName,
    attempts: 1,
    deadLetteredAt: new Date().toISOString(),
  };
}

async function inMemoryTransport(
  serializer: MessageSerializer,
): Promise<DeadLetterReplayTransport> {
  const broker = new InMemoryBroker({ serializer });
  return { publisher: broker, subscriber: () => broker.subscriber(), close: () => broker.close() };
}

let topics = 0;

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

/**
 * The conformance suite of dead-letter queues (in-memory, Redis, MongoDB). `factory` gets
 * settings (a page size) that a queue reading its store in pages must honour.
 */
export function describeDeadLetterQueueConformance(
  name: string,
  factory: (settings?: DeadLetterQueueSettings) => Promise<DeadLetterQueue>,
  options: DeadLetterQueueConformanceOptions = {},
): void {
  const transportOf = options.transport ?? inMemoryTransport;
  describe(`${name} dead-letter queue conformance`, () => {
    let queue: DeadLetterQueue;
    beforeEach(async () => {
      queue = await factory();
    });

    it("matches a type filter against a renamed type's former names when given the registry", async () => {
      // Release 2 renamed BadgeWon to BadgeEarned; letters of both releases are in the queue.
      const renamed = await factory({
        serializer: new SerializerRegistry()
          .register('BadgeEarned', z.object({ n: z.number() }))
          .formerNames('BadgeEarned', 'BadgeWon'),
      });
      const of = (type: string, n: number) => ({
        ...letter('events.Badge', n),
        envelope: testEnvelope(type, { n }, { aggregateId: `a${n}` }),
      });
      await renamed.add(of('BadgeWon', 1));
      await renamed.add(of('BadgeEarned', 2));
      await renamed.add(of('Other', 3));
      const n = (letters: readonly DeadLetter[]) =>
        letters.map((l) => (l.envelope?.data as { n: number }).n);
      expect(n(await renamed.list({ type: 'BadgeEarned' }))).toEqual([1, 2]);
      expect(n(await renamed.list({ type: 'BadgeWon' }))).toEqual([1, 2]);
      expect(await renamed.purge({ type: 'BadgeEarned' })).toBe(2);
      expect(n(await renamed.list())).toEqual([3]);
      // Without the registry the name is matched as it is.
      await queue.add(of('BadgeWon', 4));
      await queue.add(of('BadgeEarned', 5));
      expect(n(await queue.list({ type: 'BadgeEarned' }))).toEqual([5]);
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
      // By error name, exactly: the keys of stats().byReason select their letters.
      expect(
        (await queue.list({ errorName: 'PermanentError' })).map((l) => l.envelope?.data),
      ).toEqual([{ n: 2 }, { n: 3 }]);
      expect(await queue.list({ errorName: 'Permanent' })).toEqual([]);
      expect(await queue.purge({ errorName: 'TypeError' })).toBe(1);
      expect((await queue.list()).map((l) => l.errorName)).toEqual([
        'PermanentError',
        'PermanentError',
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

      const garbage = (await queue.list({ originalTopic: 'events.B' }))[1]!.id;

      expect(await queue.replay({ ids: [first] }, broker)).toEqual({
        replayed: 1,
        skipped: 0,
        skips: [],
        failed: [],
        failures: 0,
      });
      expect(await queue.replay({}, broker)).toEqual({
        replayed: 2,
        skipped: 1,
        skips: [{ id: garbage, reason: expect.stringContaining('malformed') }],
        failed: [],
        failures: 0,
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(received).toEqual([
        { topic: 'events.A', data: { n: 1 }, retryCount: 0, attempt: 1 },
        { topic: 'events.A', data: { n: 2 }, retryCount: 0, attempt: 1 },
        { topic: 'events.B', data: { n: 3 }, retryCount: 0, attempt: 1 },
      ]);
      expect((await queue.list()).map((l) => l.raw)).toEqual(['{garbage']);
    });

    it('replays a command without the reply address and retry limit of its first life', async () => {
      // Its requester was answered when it was dead-lettered (or timed out): a reply to it now
      // is read by no one, and re-creates the reply topic of an instance that may be gone.
      const broker = new InMemoryBroker({
        serializer: new SerializerRegistry().register('Dead', z.object({ n: z.number() })),
      });
      const received: Record<string, unknown>[] = [];
      await broker
        .subscriber()
        .subscribe(['commands.Dead'], { group: 'g', consumer: 'c' }, async (d) => {
          received.push({ ...d.envelope.metadata });
        });
      const dead = letter('commands.Dead', 1);
      const id = await queue.add({
        ...dead,
        envelope: {
          ...dead.envelope!,
          metadata: {
            ...dead.envelope!.metadata,
            category: 'command',
            replyTo: 'replies.gone-instance-1',
            maxRetries: 2,
          },
        },
      });
      expect(await queue.replay({ ids: [id] }, broker)).toMatchObject({ replayed: 1 });
      for (let waited = 0; received.length === 0 && waited < 10_000; waited += 10)
        await new Promise((resolve) => setTimeout(resolve, 10));
      expect(received).toEqual([
        expect.objectContaining({ category: 'command', retryCount: 0, replayedFrom: id }),
      ]);
      expect(received[0]).not.toHaveProperty('replyTo');
      expect(received[0]).not.toHaveProperty('maxRetries');
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
        skips: [],
        failed: [{ id: bad, reason: expect.stringContaining('NoSuchType') }],
        failures: 1,
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(received).toEqual([{ n: 1 }, { n: 2 }, { n: 4 }]);
      expect((await queue.list()).map((l) => l.id)).toEqual([bad]);
      // The next replay of the topic fails at the same letter again, and only there.
      expect(await queue.replay({ originalTopic: 'events.A' }, broker)).toMatchObject({
        replayed: 0,
        failed: [{ id: bad }],
        failures: 1,
      });
    });

    it('replays a letter written at an older schema version upcast to the current one, given the registry', async () => {
      // Release 1 wrote `Placed` v1; release 2 moved it to v2 (with `currency`) and an upcaster.
      const release2 = () =>
        new SerializerRegistry()
          .register('Placed', z.object({ n: z.number(), currency: z.string() }), { version: 2 })
          .upcaster('Placed', 1, (data) => ({ ...(data as object), currency: 'EUR' }));
      const upcasting = await factory({ serializer: release2() });
      const at = (n: number, schemaVersion: number, data: object = { n }): NewDeadLetter => ({
        ...letter('events.Placed', n),
        envelope: testEnvelope('Placed', data, {
          aggregateId: `a${n}`,
          metadata: { timestamp: new Date().toISOString(), retryCount: 3, schemaVersion },
        }),
      });
      const old = await upcasting.add(at(1, 1));
      const forwarded = await upcasting.add({ ...at(2, 1), handler: '(forwarder)' });
      const current = await upcasting.add(at(3, 2, { n: 3, currency: 'USD' }));
      const invalid = await upcasting.add(at(4, 1, { n: 'four' }));
      const newer = await upcasting.add(at(5, 3, { n: 5, currency: 'USD', more: true }));
      const broker = new InMemoryBroker({ serializer: release2() });
      const received: unknown[] = [];
      await broker
        .subscriber()
        .subscribe(['events.Placed'], { group: 'g', consumer: 'c' }, async (d) => {
          received.push({
            data: d.envelope.data,
            schemaVersion: d.envelope.metadata.schemaVersion,
            replayedFrom: d.envelope.metadata.replayedFrom,
          });
        });
      const result = await upcasting.replay({}, broker);
      expect(result).toEqual({
        replayed: 3,
        skipped: 0,
        skips: [],
        failed: [
          {
            id: invalid,
            reason: expect.stringMatching(
              /^DeadLetterUpcastError: the letter was written at schema version 1 of Placed .*MessageValidationError: .*n/,
            ),
          },
          {
            id: newer,
            reason: expect.stringMatching(
              /written at schema version 3 of Placed .*UnsupportedSchemaVersionError/,
            ),
          },
        ],
        failures: 2,
      });
      await until(() => received.length === 3, 'the replayed letters');
      expect(received).toEqual([
        { data: { n: 1, currency: 'EUR' }, schemaVersion: 2, replayedFrom: old },
        { data: { n: 2, currency: 'EUR' }, schemaVersion: 2, replayedFrom: forwarded },
        { data: { n: 3, currency: 'USD' }, schemaVersion: 2, replayedFrom: current },
      ]);
      // The letters that cannot be read stay as they were, for a fixed release to replay.
      expect(
        (await upcasting.list()).map((l) => [l.id, l.envelope?.metadata.schemaVersion]),
      ).toEqual([
        [invalid, 1],
        [newer, 3],
      ]);
    });

    it('pages through the letters with after and limit, also past a letter removed meanwhile', async () => {
      for (let n = 1; n <= 25; n++) await queue.add(letter(n % 2 ? 'events.A' : 'events.B', n));
      const all = (await queue.list()).map((l) => l.id);
      expect(all).toHaveLength(25);
      const paged: string[] = [];
      let after: string | undefined;
      for (let page = 0; page < 5; page++) {
        const letters = await queue.list({ limit: 10, ...(after !== undefined && { after }) });
        paged.push(...letters.map((l) => l.id));
        if (letters.length < 10) break;
        after = letters[letters.length - 1]!.id;
        // The cursor's own letter goes (replayed, purged): the next page still starts after it.
        if (page === 0) expect(await queue.purge({ ids: [after] })).toBe(1);
      }
      expect(paged).toEqual(all);
      // after bounds the other operations alike: the letters after the 20th go.
      expect(await queue.purge({ after: all[19]!, handler: 'h' })).toBe(5);
      expect((await queue.list()).map((l) => l.id)).toEqual(
        all.filter((_, i) => i !== 9 && i < 20),
      );
      for (const after of ['', 'nonsense', 'x|y', '||', 'events.A|99999999999999999999-0']) {
        const error = await queue.list({ after }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(DeadLetterCursorError);
        expect((error as Error).message).toContain('after must be a letter id of this queue');
      }
    });

    it('stops a replay the broker keeps refusing, and lists a bounded number of failures', async () => {
      for (let n = 1; n <= 130; n++) await queue.add(letter('events.A', n));
      const refusing = (error: () => Error): Publisher => ({
        publish: async () => {
          throw error();
        },
        close: async () => undefined,
      });
      // A broker refusing writes: the replay gives up after REPLAY_STOP_AFTER in a row.
      const down = await queue.replay(
        {},
        refusing(() => new Error('READONLY You cannot write against a read only replica')),
      );
      expect(down).toMatchObject({ replayed: 0, failures: REPLAY_STOP_AFTER });
      expect(down.failed).toHaveLength(REPLAY_STOP_AFTER);
      expect(down.stopped).toMatch(/refused 20 letters in a row .*READONLY/);
      // Letters the broker cannot take for reasons of their own do not stop it; all are counted.
      const unknown = await queue.replay(
        {},
        refusing(() =>
          Object.assign(new Error('unknown type Dead'), { name: 'UnknownMessageTypeError' }),
        ),
      );
      expect(unknown).toMatchObject({ replayed: 0, failures: 130 });
      expect(unknown.failed).toHaveLength(REPLAY_LISTED);
      expect(unknown.stopped).toBeUndefined();
      // Also a transport's own subclass of such an error (KafkaMessageTooLargeError's kind).
      class TransportTooLargeError extends MessageTooLargeError {
        constructor() {
          super('m', 2_000_000, 1_000_000);
          this.name = 'TransportTooLargeError';
        }
      }
      const large = await queue.replay(
        {},
        refusing(() => new TransportTooLargeError()),
      );
      expect(large).toMatchObject({ replayed: 0, failures: 130 });
      expect(large.stopped).toBeUndefined();
      expect((await queue.stats()).total).toBe(130);
    });

    it('publishes each letter once across concurrent replays of the same letters, and counts it in one', async () => {
      const N = 50;
      for (let n = 1; n <= N; n++) await queue.add(letter('events.A', n));
      const published: number[] = [];
      const publisher = countingPublisher(published);
      const [first, second] = await Promise.all([
        queue.replay({}, publisher),
        queue.replay({}, publisher),
      ]);
      expect([...published].sort((a, b) => a - b)).toEqual(
        Array.from({ length: N }, (_, i) => i + 1),
      );
      expect(first.replayed + second.replayed).toBe(N);
      expect([first.failures, second.failures, first.skipped, second.skipped]).toEqual([
        0, 0, 0, 0,
      ]);
      expect(await queue.list()).toEqual([]);
    });

    it("replays a letter whose replayer died holding its claim once the claim's lease expired", async () => {
      const leased = await factory({ claimLeaseMs: 300 });
      const id = await leased.add(letter('events.A', 1));
      // A replayer that hangs in its publish (then dies): it holds the letter's claim.
      let die: (error: Error) => void = () => undefined;
      let publishing: () => void = () => undefined;
      const started = new Promise<void>((resolve) => (publishing = resolve));
      const dying = leased.replay(
        {},
        {
          publish: () =>
            new Promise<void>((_, reject) => {
              die = reject;
              publishing();
            }),
          close: async () => undefined,
        },
      );
      await started;
      const published: number[] = [];
      // Claimed: another replay passes it over; operators still see it.
      expect(await leased.replay({}, countingPublisher(published))).toMatchObject({
        replayed: 0,
        failures: 0,
      });
      expect(published).toEqual([]);
      expect((await leased.list()).map((l) => l.id)).toEqual([id]);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(await leased.replay({}, countingPublisher(published))).toMatchObject({
        replayed: 1,
        failures: 0,
      });
      expect(published).toEqual([1]);
      // The dead replayer's publish fails at last: it neither releases nor counts the letter.
      die(new Error('connection lost'));
      expect(await dying).toMatchObject({ replayed: 0, failures: 1 });
      expect(await leased.list()).toEqual([]);
    });

    it('gives a letter whose publish failed back at once, and does not count one purged during its publish', async () => {
      const id = await queue.add(letter('events.A', 1));
      const refused = await queue.replay(
        {},
        {
          publish: async () => {
            throw new Error('broker down');
          },
          close: async () => undefined,
        },
      );
      expect(refused).toMatchObject({ replayed: 0, failures: 1 });
      const published: number[] = [];
      const purging: Publisher = {
        publish: async (topic, envelopes) => {
          await countingPublisher(published).publish(topic, envelopes);
          expect(await queue.purge({ ids: [id] })).toBe(1);
        },
        close: async () => undefined,
      };
      expect(await queue.replay({}, purging)).toMatchObject({ replayed: 0, failures: 0 });
      expect(published).toEqual([1]);
      expect(await queue.list()).toEqual([]);
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
        skips: [],
        failed: [],
        failures: 0,
      });
      expect((await queue.list()).map((l) => l.id)).toEqual([a2, b4]);
    });

    it('replays a letter to the group that gave up on it; one that never reached its topic to every group', async () => {
      const broker = new InMemoryBroker({ serializer: deadSerializer() });
      const received: { data: unknown; replayFor: unknown; replayedFrom: unknown }[] = [];
      await broker
        .subscriber()
        .subscribe(['events.A'], { group: 'g', consumer: 'c' }, async (d) => {
          received.push({
            data: d.envelope.data,
            replayFor: d.envelope.metadata.replayFor,
            replayedFrom: d.envelope.metadata.replayedFrom,
          });
        });
      const consumed = await queue.add(letter('events.A', 1));
      const forwarded = await queue.add({
        ...letter('events.A', 2),
        group: 'outbox',
        handler: '(forwarder)',
      });
      expect(await queue.replay({ originalTopic: 'events.A' }, broker)).toMatchObject({
        replayed: 2,
      });
      await until(() => received.length === 2, 'both replays');
      expect(received).toEqual([
        { data: { n: 1 }, replayFor: 'g', replayedFrom: consumed },
        { data: { n: 2 }, replayFor: undefined, replayedFrom: forwarded },
      ]);
    });

    it('after a replay, only the handler that gave up runs again, not the others of the topic', async () => {
      const transport = await transportOf(deadSerializer());
      const topic = `dl-replay.${Date.now().toString(36)}.${topics++}`;
      const router = new Router({
        subscriber: transport.subscriber(),
        service: `dlc${topics}`,
        instanceId: 'i1',
      });
      router.use(deadLetter({ queue }));
      const failing: unknown[] = [];
      const other: unknown[] = [];
      router.addHandler({
        name: 'h',
        topics: [topic],
        handle: async (d) => {
          failing.push(d.envelope.data);
          throw new PermanentError('h always fails');
        },
      });
      router.addHandler({
        name: 'other',
        topics: [topic],
        handle: async (d) => {
          other.push(d.envelope.data);
        },
      });
      try {
        await router.run();
        const message = (n: number): Envelope =>
          testEnvelope('Dead', { n }, { aggregateId: 'same' });
        await transport.publisher.publish(topic, [message(1)]);
        await until(
          async () => other.length === 1 && (await queue.list({ handler: 'h' })).length === 1,
          "h's letter and other's handling",
        );
        const result = await queue.replay({ handler: 'h' }, transport.publisher);
        expect(result).toMatchObject({ replayed: 1, failed: [] });
        // Same key, published after the replay: once `other` has it, it has seen the replay.
        await transport.publisher.publish(topic, [message(2)]);
        await until(() => other.length >= 2 && failing.length >= 3, 'the next message');
        expect(other).toEqual([{ n: 1 }, { n: 2 }]);
        expect(failing).toEqual([{ n: 1 }, { n: 1 }, { n: 2 }]);
        await until(
          async () => (await queue.list({ handler: 'h' })).length === 2,
          'h giving up on both',
        );
      } finally {
        await router.close();
        await transport.close();
      }
    });

    it("replays a fan-out handler's letter to every instance of it running then, even after its own instance is gone", async () => {
      const transport = await transportOf(deadSerializer());
      const topic = `dl-fanout.${Date.now().toString(36)}.${topics++}`;
      const service = `dlf${topics}`;
      let broken = true;
      const pushed: string[] = [];
      const other: unknown[] = [];
      const routers: Router[] = [];
      // Instance ids are host-pid by default: a restarted instance has a new one.
      const start = async (instanceId: string) => {
        const router = new Router({ subscriber: transport.subscriber(), service, instanceId });
        routers.push(router);
        router.use(deadLetter({ queue }));
        router.addHandler({
          name: 'push',
          mode: 'fan-out',
          topics: [topic],
          handle: async (d) => {
            if (broken) throw new PermanentError('downstream broken');
            pushed.push(`${instanceId}:${(d.envelope.data as { n: number }).n}`);
          },
        });
        router.addHandler({
          name: 'other',
          topics: [topic],
          handle: async (d) => void other.push(d.envelope.data),
        });
        await router.run();
        await router.subscribed('push');
        return router;
      };
      const message = (n: number): Envelope => testEnvelope('Dead', { n }, { aggregateId: 'same' });
      try {
        const first = await start('host-1');
        await transport.publisher.publish(topic, [message(1)]);
        await until(
          async () => other.length === 1 && (await queue.list({ handler: 'push' })).length === 1,
          "push's letter",
        );
        await first.close();
        broken = false;
        await start('host-2');
        await start('host-3');
        expect(await queue.replay({ handler: 'push' }, transport.publisher)).toMatchObject({
          replayed: 1,
        });
        // Same key, after the replay: an instance that has it has seen the replay.
        await transport.publisher.publish(topic, [message(2)]);
        await until(
          () => pushed.includes('host-2:2') && pushed.includes('host-3:2') && other.length === 2,
          'the next message in both instances',
        );
        expect(pushed.filter((p) => p.startsWith('host-2'))).toEqual(['host-2:1', 'host-2:2']);
        expect(pushed.filter((p) => p.startsWith('host-3'))).toEqual(['host-3:1', 'host-3:2']);
        expect(other).toEqual([{ n: 1 }, { n: 2 }]);
      } finally {
        for (const router of routers) await router.close();
        await transport.close();
      }
    });

    it('replays poison that was not understood as its raw text; malformed poison stays, saying why', async () => {
      // The next release's producer knows `Later` and v2 of `Dead`; the consumer knew neither.
      const producer = new SerializerRegistry()
        .register('Dead', z.object({ n: z.number(), m: z.number() }), { version: 2 })
        .register('Later', z.object({ s: z.string() }));
      const later = testEnvelope('Later', { s: 'x' }, { aggregateId: 'k1' });
      const newer = testEnvelope('Dead', { n: 1, m: 2 }, { aggregateId: 'k2' });
      const wire = (envelope: Envelope) => JSON.stringify(producer.serialize(envelope));
      const tampered = JSON.parse(wire(testEnvelope('Later', { s: 'y' }))) as { data: string };
      tampered.data = '{"s":"z"}';
      const unknown = await queue.add(
        poison(
          'events.P',
          wire(later),
          'UnknownMessageTypeError: Unknown message type "Later": register it with the serializer registry',
          'NotUnderstoodMessageError',
        ),
      );
      const version = await queue.add(
        poison(
          'events.P',
          wire(newer),
          'UnsupportedSchemaVersionError: Dead has schema version 2, newer than the current version 1 known here',
          // Stored before the kinds had names of their own: judged by its raw text and reason.
          'UndecodableMessageError',
        ),
      );
      const checksum = await queue.add(
        poison(
          'events.P',
          JSON.stringify(tampered),
          'ChecksumMismatchError: Checksum mismatch for message m: expected a, got b',
          'UndecodableMessageError',
        ),
      );
      const notJson = await queue.add(
        poison('events.P', '{garbage', 'not JSON (Unexpected token g)', 'UndecodableMessageError'),
      );

      // After the deploy the consumer knows both.
      const broker = new InMemoryBroker({ serializer: producer });
      const received: unknown[] = [];
      await broker
        .subscriber()
        .subscribe(['events.P'], { group: 'g', consumer: 'c' }, async (d) => {
          received.push({
            type: d.envelope.type,
            data: d.envelope.data,
            retryCount: d.envelope.metadata.retryCount,
            replayFor: d.envelope.metadata.replayFor,
            messageId: d.envelope.messageId,
          });
        });
      const result = await queue.replay({ originalTopic: 'events.P' }, broker);
      expect(result).toEqual({
        replayed: 2,
        skipped: 2,
        skips: [
          { id: checksum, reason: expect.stringMatching(/^malformed .*ChecksumMismatchError/) },
          { id: notJson, reason: expect.stringMatching(/^malformed .*not JSON/) },
        ],
        failed: [],
        failures: 0,
      });
      await until(() => received.length === 2, 'the replayed poison');
      expect(received).toEqual([
        {
          type: 'Later',
          data: { s: 'x' },
          retryCount: 0,
          replayFor: 'g',
          messageId: later.messageId,
        },
        {
          type: 'Dead',
          data: { n: 1, m: 2 },
          retryCount: 0,
          replayFor: 'g',
          messageId: newer.messageId,
        },
      ]);
      expect((await queue.list()).map((l) => l.id)).toEqual([checksum, notJson]);
      expect([unknown, version]).toHaveLength(2);
    });

    it('selects poison by the type of the envelope in its raw text, and reports its type and message id', async () => {
      // A rolling deploy: the next release publishes `Later`, which this consumer does not know.
      const producer = new SerializerRegistry().register('Later', z.object({ s: z.string() }));
      const later = testEnvelope('Later', { s: 'x' }, { aggregateId: 'k1' });
      const reported: DeadLetterEvent[] = [];
      const onPoison = poisonToDeadLetters(queue, { onDeadLetter: (e) => reported.push(e) });
      const received = (raw: string, reason: string) =>
        onPoison({ topic: 'events.P', position: '1-0', group: 'g', raw, reason });
      await received(
        JSON.stringify(producer.serialize(later)),
        'UnknownMessageTypeError: Unknown message type "Later": register it with the serializer registry',
      );
      await received('{garbage', 'not JSON (Unexpected token g)');
      await queue.add({ ...letter('events.P', 1), handler: 'h' });

      const [unknown, ...others] = await queue.list({ type: 'Later' });
      expect(others).toEqual([]);
      expect(unknown).toMatchObject({
        type: 'Later',
        messageId: later.messageId,
        handler: '(decoder)',
        errorName: 'NotUnderstoodMessageError',
      });
      expect(unknown!.envelope).toBeUndefined();
      expect((await queue.list({ type: 'Dead' })).map((l) => l.handler)).toEqual(['h']);
      // Text that is not an envelope has no type: no type filter selects it.
      const garbage = (await queue.list({ handler: '(decoder)' })).find(
        (l) => l.raw === '{garbage',
      );
      expect(garbage?.type).toBeUndefined();
      expect(garbage?.messageId).toBeUndefined();
      expect(reported.map((e) => [e.type, e.messageId, e.letterId])).toEqual([
        ['Later', later.messageId, unknown!.id],
        ['(undecodable)', '', garbage!.id],
      ]);

      // After the deploy: replayed by its type.
      const broker = new InMemoryBroker({ serializer: producer });
      const replayed: unknown[] = [];
      await broker
        .subscriber()
        .subscribe(['events.P'], { group: 'g', consumer: 'c' }, async (d) => {
          replayed.push([d.envelope.type, d.envelope.messageId]);
        });
      expect(await queue.replay({ type: 'Later' }, broker)).toMatchObject({
        replayed: 1,
        failures: 0,
        skipped: 0,
      });
      await until(() => replayed.length === 1, 'the replayed poison');
      expect(replayed).toEqual([['Later', later.messageId]]);
      expect(await queue.purge({ type: 'Later' })).toBe(0);
      expect((await queue.list()).map((l) => l.raw ?? l.handler).sort()).toEqual(['h', '{garbage']);
    });

    it('lists, counts, replays and purges exactly across page boundaries', async () => {
      const paged = await factory({ pageSize: 3 });
      const data = async (filter: DeadLetterFilter) =>
        (await paged.list(filter)).map((l) => (l.envelope?.data as { n: number }).n);
      // events.A: 1..10, handler `rare` for 4 and 8; events.B: 11..14.
      for (let n = 1; n <= 14; n++) {
        const rare = n === 4 || n === 8;
        await paged.add({
          ...letter(n <= 10 ? 'events.A' : 'events.B', n, rare ? 'RareError' : 'Error'),
          handler: rare ? 'rare' : 'common',
        });
      }
      const A = { originalTopic: 'events.A' };
      expect(await data({ ...A, handler: 'rare' })).toEqual([4, 8]);
      expect(await data({ ...A, handler: 'rare', limit: 1 })).toEqual([4]);
      expect(await data({ ...A, limit: 7 })).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(await data({ ...A, handler: 'common', limit: 5 })).toEqual([1, 2, 3, 5, 6]);
      expect((await data({ handler: 'rare' })).sort((a, b) => a - b)).toEqual([4, 8]);
      expect(await paged.list({ limit: 12 })).toHaveLength(12);
      expect(await paged.stats()).toEqual({
        total: 14,
        byTopic: { 'events.A': 10, 'events.B': 4 },
        byReason: { Error: 12, RareError: 2 },
      });
      expect(await paged.purge({ ...A, handler: 'common', limit: 4 })).toBe(4);
      expect(await data(A)).toEqual([4, 6, 7, 8, 9, 10]);
      const broker = new InMemoryBroker({ serializer: deadSerializer() });
      expect(await paged.replay({ ...A, handler: 'common', limit: 3 }, broker)).toMatchObject({
        replayed: 3,
      });
      expect(await data(A)).toEqual([4, 8, 10]);
      expect(await paged.purge({ handler: 'common' })).toBe(5);
      expect(await paged.purge({ reason: 'failed' })).toBe(2);
      expect(await paged.stats()).toEqual({ total: 0, byTopic: {}, byReason: {} });
    });

    it.each([[-1], [1.5], [Number.NaN], [Number.POSITIVE_INFINITY], ['2']])(
      'refuses a limit of %p with a TypeError naming it, on list, replay and purge, removing nothing',
      async (limit) => {
        await queue.add(letter('events.limit', 1));
        await queue.add(letter('events.limit', 2));
        const filter = { originalTopic: 'events.limit', limit } as unknown as DeadLetterFilter;
        const published: number[] = [];
        for (const call of [
          () => queue.list(filter),
          () => queue.replay(filter, countingPublisher(published)),
          () => queue.purge(filter),
        ]) {
          const refused = call();
          await expect(refused).rejects.toThrow(TypeError);
          await expect(refused).rejects.toThrow(
            `limit must be a non-negative integer (at most ${Number.MAX_SAFE_INTEGER}), got ${typeof limit === 'string' ? JSON.stringify(limit) : String(limit)}`,
          );
        }
        expect(published).toEqual([]);
        expect((await queue.stats()).total).toBe(2);
        expect(await queue.list({ limit: 0 })).toEqual([]);
        expect(await queue.purge({ originalTopic: 'events.limit', limit: 0 })).toBe(0);
      },
    );

    it('refuses a replay or purge without a filter object, removing nothing', async () => {
      await queue.add(letter('events.nofilter', 1));
      for (const call of [
        () => queue.replay(undefined as unknown as DeadLetterFilter, countingPublisher([])),
        () => queue.purge(undefined as unknown as DeadLetterFilter),
        () => queue.list(null as unknown as DeadLetterFilter),
      ]) {
        const refused = call();
        await expect(refused).rejects.toThrow(TypeError);
        await expect(refused).rejects.toThrow('dead-letter filter must be an object');
      }
      expect((await queue.stats()).total).toBe(1);
    });

    it.each(['originalTopic', 'handler', 'type', 'reason', 'errorName'])(
      'refuses a list, replay or purge whose %s is empty (it selected every letter), removing nothing',
      async (field) => {
        await queue.add(letter('events.emptyfilter', 1));
        await queue.add(letter('events.emptyfilter', 2));
        const published: number[] = [];
        for (const call of [
          () => queue.purge({ [field]: '' }),
          () => queue.replay({ [field]: '' }, countingPublisher(published)),
          () => queue.list({ [field]: '' }),
          () => queue.purge({ [field]: 5 } as unknown as DeadLetterFilter),
        ]) {
          const refused = call();
          await expect(refused).rejects.toThrow(TypeError);
          await expect(refused).rejects.toThrow(`${field} must be a non-empty string, got `);
        }
        expect((await queue.stats()).total).toBe(2);
        expect(published).toEqual([]);
      },
    );

    it.each([
      ['originalTopic', ''],
      ['originalTopic', undefined],
      ['handler', ''],
      ['handler', 7],
    ])(
      'refuses to add a letter whose %s is %p, with a TypeError naming it',
      async (field, value) => {
        const bad = { ...letter('events.bad', 1), [field]: value } as unknown as NewDeadLetter;
        const refused = queue.add(bad);
        await expect(refused).rejects.toThrow(TypeError);
        await expect(refused).rejects.toThrow(`dead letter ${field} must be a non-empty string`);
        expect((await queue.stats()).total).toBe(0);
      },
    );

    it('purges exactly the letters dead-lettered before a cutoff (retention), other topics and younger letters kept', async () => {
      const at = (topic: string, n: number, iso: string) => ({
        ...letter(topic, n),
        deadLetteredAt: iso,
      });
      await queue.add(at('orders', 1, '2026-01-01T00:00:00.000Z'));
      // An offset: compared as an instant (00:30Z), not as text.
      await queue.add(at('orders', 2, '2026-01-01T01:30:00.000+01:00'));
      await queue.add(at('orders', 3, '2026-01-01T01:00:00.000Z')); // the cutoff itself: kept
      await queue.add(at('orders', 4, '2026-01-02T00:00:00.000Z'));
      await queue.add(at('orders', 5, 'not a date')); // never matched by a cutoff
      await queue.add(at('other', 6, '2026-01-01T00:00:00.000Z'));
      const cutoff = { deadLetteredBefore: '2026-01-01T01:00:00.000Z' };
      const n = (letters: readonly DeadLetter[]) =>
        letters.map((l) => (l.envelope?.data as { n: number }).n);
      expect(n(await queue.list(cutoff))).toEqual([1, 2, 6]);
      expect(await queue.purge({ ...cutoff, originalTopic: 'orders' })).toBe(2);
      expect(n(await queue.list())).toEqual([3, 4, 5, 6]);
      expect(await queue.purge({ ...cutoff, originalTopic: 'orders' })).toBe(0);
    });

    it.each([['yesterday'], ['2026-01-01'], [1_700_000_000_000], ['2026-13-45T00:00:00Z']])(
      'refuses a deadLetteredBefore of %p with a TypeError naming it, on list, replay and purge, removing nothing',
      async (before) => {
        await queue.add(letter('events.before', 1));
        const filter = { deadLetteredBefore: before } as unknown as DeadLetterFilter;
        for (const call of [
          () => queue.list(filter),
          () => queue.replay(filter, countingPublisher([])),
          () => queue.purge(filter),
        ]) {
          const refused = call();
          await expect(refused).rejects.toThrow(TypeError);
          await expect(refused).rejects.toThrow('deadLetteredBefore must be an ISO-8601 date-time');
        }
        expect((await queue.stats()).total).toBe(1);
      },
    );

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
