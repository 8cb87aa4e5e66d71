import {
  type EventStore,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RetentionPolicy,
  type StoredEvent,
  type Subscription,
  type SubscriptionOptions,
} from '../event-store/event-store.port';
import { type EventStoreConformanceContext } from './event-store.conformance';
import { event, range, uniqueName, versions } from './event-store.conformance.fixtures';

const DAY_MS = 24 * 60 * 60 * 1000;

export function argumentScenarios(context: EventStoreConformanceContext): void {
  const store = (): EventStore => context.harness().store;

  it('refuses malformed numbers in every operation before doing anything, naming the option', async () => {
    const prefix = uniqueName('malformed') + '/';
    const streamId = prefix + 'stream';
    const type = uniqueName('Malformed');
    // Old events: an age cutoff that a malformed maxAgeMs turned into NaN must not remove them.
    const old = new Date(Date.now() - 2 * DAY_MS).toISOString();
    const { positions } = await store().append(
      streamId,
      range(1, 3).map((n) => event(type, n, { timestamp: old })),
      { expectedVersion: 'no-stream' },
    );
    const from = (positions[0] ?? 1) - 1;

    const failure = async (attempt: () => Promise<unknown>) => {
      try {
        await attempt();
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const refused = async (attempt: () => Promise<unknown>, option: string, shown: string) => {
      const error = await failure(attempt);
      expect({ option, shown, error }).toEqual({ option, shown, error: expect.any(TypeError) });
      expect((error as Error).message).toContain(option);
      expect((error as Error).message).toContain(shown);
    };

    const readStream = (options: unknown) => () =>
      store().readStream(streamId, options as ReadStreamOptions);
    await refused(readStream({ limit: -1 }), 'limit', '-1');
    await refused(readStream({ limit: 1.5 }), 'limit', '1.5');
    await refused(readStream({ limit: NaN }), 'limit', 'NaN');
    await refused(readStream({ limit: '2' }), 'limit', '"2"');
    await refused(readStream({ fromVersion: NaN }), 'fromVersion', 'NaN');
    await refused(readStream({ fromVersion: 0 }), 'fromVersion', '0');
    await refused(readStream({ fromVersion: 1.5 }), 'fromVersion', '1.5');
    await refused(readStream({ toVersion: -1 }), 'toVersion', '-1');
    await refused(readStream({ toVersion: Infinity }), 'toVersion', 'Infinity');
    await refused(readStream({ direction: 'back' }), 'direction', '"back"');

    const readAll = (options: unknown) => () => store().readAll(options as ReadAllOptions);
    await refused(readAll({ fromPosition: NaN }), 'fromPosition', 'NaN');
    await refused(readAll({ fromPosition: -1 }), 'fromPosition', '-1');
    await refused(readAll({ fromPosition: 0.5 }), 'fromPosition', '0.5');
    await refused(readAll({ fromPosition: '0' }), 'fromPosition', '"0"');
    await refused(readAll({ fromPosition: from, limit: -1 }), 'limit', '-1');
    await refused(readAll({ fromPosition: from, limit: 2.5 }), 'limit', '2.5');
    await refused(readAll({ fromPosition: from, types: type }), 'types', type);
    await refused(readAll({ fromPosition: from, types: [type, 7] }), 'types', '7');
    // An object with a `type` is not a message type (messageType(…)): refused, not matched.
    await refused(
      readAll({ fromPosition: from, types: [{ type }] }),
      'types',
      `{"type":"${type}"}`,
    );

    // subscribe() refuses at once (it returns a Subscription, not a promise): nothing is read.
    const received: StoredEvent[] = [];
    const subscribe = (options: Partial<SubscriptionOptions>) => () => {
      let subscription: Subscription | undefined;
      try {
        subscription = store().subscribe({
          fromPosition: from,
          types: [type],
          handler: (e) => void received.push(e),
          ...options,
        } as SubscriptionOptions);
      } finally {
        // A store that wrongly accepted it must not keep polling (limit 0 would spin for ever).
        void subscription?.stop();
      }
      return Promise.resolve(subscription);
    };
    await refused(subscribe({ limit: 0 }), 'limit', '0');
    await refused(subscribe({ limit: -3 }), 'limit', '-3');
    await refused(subscribe({ limit: 0.5 }), 'limit', '0.5');
    await refused(subscribe({ fromPosition: NaN }), 'fromPosition', 'NaN');
    await refused(subscribe({ fromPosition: -1 }), 'fromPosition', '-1');
    await refused(subscribe({ pollIntervalMs: 0 }), 'pollIntervalMs', '0');
    await refused(subscribe({ pollIntervalMs: NaN }), 'pollIntervalMs', 'NaN');
    await refused(subscribe({ pollIntervalMs: Infinity }), 'pollIntervalMs', 'Infinity');
    await refused(subscribe({ types: type as unknown as string[] }), 'types', type);
    await refused(subscribe({ handler: undefined }), 'handler', 'undefined');
    await refused(subscribe({ onCaughtUp: 'yes' as unknown as () => void }), 'onCaughtUp', '"yes"');

    const truncate = (beforeVersion: unknown) => () =>
      store().truncateStream(streamId, beforeVersion as number);
    await refused(truncate(NaN), 'beforeVersion', 'NaN');
    await refused(truncate(2.5), 'beforeVersion', '2.5');
    await refused(truncate(0), 'beforeVersion', '0');
    await refused(truncate(-1), 'beforeVersion', '-1');
    await refused(truncate(Infinity), 'beforeVersion', 'Infinity');
    await refused(truncate('3'), 'beforeVersion', '"3"');

    const retention = (policy: unknown) => () => store().applyRetention(policy as RetentionPolicy);
    await refused(retention({ maxAgeMs: NaN, streamPrefix: prefix }), 'maxAgeMs', 'NaN');
    await refused(retention({ maxAgeMs: -1, streamPrefix: prefix }), 'maxAgeMs', '-1');
    await refused(retention({ maxAgeMs: Infinity, streamPrefix: prefix }), 'maxAgeMs', 'Infinity');
    await refused(retention({ maxAgeMs: '1', streamPrefix: prefix }), 'maxAgeMs', '"1"');
    await refused(retention({ maxCount: -2, streamPrefix: prefix }), 'maxCount', '-2');
    await refused(retention({ maxCount: 1.5, streamPrefix: prefix }), 'maxCount', '1.5');
    await refused(retention({ maxCount: NaN, streamPrefix: prefix }), 'maxCount', 'NaN');
    await refused(
      retention({ maxAgeMs: DAY_MS, maxCount: -1, streamPrefix: prefix }),
      'maxCount',
      '-1',
    );
    await refused(
      retention({ maxCount: 0, maxPosition: -1, streamPrefix: prefix }),
      'maxPosition',
      '-1',
    );
    await refused(
      retention({ maxCount: 0, maxPosition: 1.5, streamPrefix: prefix }),
      'maxPosition',
      '1.5',
    );
    await refused(
      retention({ maxCount: 0, maxPosition: '9', streamPrefix: prefix }),
      'maxPosition',
      '"9"',
    );
    await refused(retention({ maxCount: 1, streamPrefix: 5 }), 'streamPrefix', '5');
    await refused(retention(undefined), 'policy', 'undefined');

    // Nothing was read, truncated or removed.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(received).toEqual([]);
    await expect(store().streamInfo(streamId)).resolves.toEqual({
      streamId,
      version: 3,
      firstVersion: 1,
      state: 'active',
    });
    expect((await store().readStream(streamId)).map((e) => e.data)).toEqual([1, 2, 3]);
    expect(versions(await store().readAll({ fromPosition: from, types: [type] }))).toEqual([
      1, 2, 3,
    ]);

    // The edges of the ranges are valid, and alike everywhere.
    await expect(store().readStream(streamId, { limit: 0 })).resolves.toEqual([]);
    await expect(store().readAll({ fromPosition: from, limit: 0 })).resolves.toEqual([]);
    await expect(store().readAll({ fromPosition: from, types: [] })).resolves.toEqual([]);
    await store().truncateStream(streamId, 1);
    await expect(
      store().applyRetention({ maxAgeMs: 3 * DAY_MS, maxCount: 3, streamPrefix: prefix }),
    ).resolves.toBe(0);
    expect(versions(await store().readStream(streamId))).toEqual([1, 2, 3]);
    // maxCount 0 keeps no event of the matching streams.
    await expect(store().applyRetention({ maxCount: 0, streamPrefix: prefix })).resolves.toBe(3);
    await expect(store().streamInfo(streamId)).resolves.toEqual({
      streamId,
      version: 3,
      firstVersion: 4,
      state: 'active',
      truncated: true,
    });
  });

  it('refuses a bad stream id or a malformed event in every operation before doing anything, naming it', async () => {
    const type = uniqueName('BadInput');
    const good = uniqueName('bad-input');
    const refused = async (attempt: () => Promise<unknown>, message: string) => {
      await expect(attempt()).rejects.toThrow(TypeError);
      await expect(attempt()).rejects.toThrow(message);
    };
    const ids: [unknown, string][] = [
      ['', 'streamId must not be empty or blank, got ""'],
      ['  ', 'streamId must not be empty or blank'],
      [4242, 'streamId must be a string, got 4242'],
      [undefined, 'streamId must be a string, got undefined'],
      ['x'.repeat(1_025), 'streamId must be at most 1024 characters, got 1025'],
      ['a\u0000b', 'streamId must not contain a NUL character'],
      // Both would be `order-\uFFFD-x` in UTF-8: one stream on Redis and MongoDB.
      ['order-\uD800-x', 'streamId must be well-formed Unicode'],
      ['order-x\uDBFF', 'streamId must be well-formed Unicode'],
    ];
    for (const [id, message] of ids) {
      const streamId = id as string;
      await refused(
        () => store().append(streamId, [event(type, 1)], { expectedVersion: 'any' }),
        message,
      );
      await refused(() => store().readStream(streamId), message);
      await refused(() => store().streamInfo(streamId), message);
      await refused(() => store().deleteStream(streamId, { mode: 'soft' }), message);
      await refused(() => store().truncateStream(streamId, 1), message);
    }
    const append = (events: unknown) => () =>
      store().append(good, events as never, { expectedVersion: 'any' });
    // Each names the append's stream, as the serializer's refusals do (locateAppendError).
    const of = ` (append to stream ${good})`;
    await refused(append('x'), `events must be an array of envelopes, got "x"${of}`);
    await refused(append([event(type, 1), null]), `events[1] must be an envelope, got null${of}`);
    await refused(
      append([{ ...event(type, 1), type: '' }]),
      `events[0].type must be a non-empty string, got ""${of}`,
    );
    await refused(
      append([{ ...event(type, 1), messageId: 7 }]),
      `events[0].messageId must be a non-empty string, got 7${of}`,
    );
    await expect(append([{ ...event(type, 1), type: '' }])()).rejects.toMatchObject({
      streamId: good,
    });
    // Built by hand without an aggregate or metadata: one backend stored it without them, one
    // failed inside its size bound, the serializer on a missing property (a review, session 44).
    for (const field of ['aggregateId', 'aggregateType'] as const)
      for (const value of [undefined, 7])
        await refused(
          append([event(type, 1), { ...event(type, 2), [field]: value }]),
          `events[1].${field} must be a string, got ${String(value)}${of}`,
        );
    for (const value of [undefined, null, 'x'])
      await refused(
        append([{ ...event(type, 1), metadata: value }]),
        `events[0].metadata must be an object, got ${value === 'x' ? '"x"' : String(value)}${of}`,
      );
    // An empty aggregate type or id is what a handler without one writes: taken.
    const anonymous = uniqueName('no-aggregate');
    await store().append(anonymous, [{ ...event(type, 1), aggregateId: '', aggregateType: '' }], {
      expectedVersion: 'no-stream',
    });
    await expect(store().readStream(anonymous)).resolves.toMatchObject([
      { aggregateId: '', aggregateType: '' },
    ]);
    // The longest id is taken, and nothing of the refused appends was written.
    const longest = uniqueName('l').padEnd(1_024, 'x');
    await store().append(longest, [event(type, 1)], { expectedVersion: 'no-stream' });
    expect(versions(await store().readStream(longest))).toEqual([1]);
    // Surrogate pairs are well-formed: an emoji is fine.
    const emoji = `${uniqueName('e')}-\uD83D\uDE80`;
    await store().append(emoji, [event(type, 1)], { expectedVersion: 'no-stream' });
    expect(versions(await store().readStream(emoji))).toEqual([1]);
    expect(await store().streamInfo(good)).toMatchObject({ version: 0, state: 'missing' });
  });
}
