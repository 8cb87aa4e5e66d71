import {
  type EventStore,
  type StoredEvent,
  type Subscription,
} from '../event-store/event-store.port';
import { CheckpointPastEndError } from '../event-store/event-store.errors';
import { ChecksumMismatchError } from '../messages/message.errors';
import { type Envelope } from '../messages/envelope';
import { InMemoryCheckpointStore } from '../outbox/checkpoint-store.port';
import { EventForwarder } from '../outbox/event.forwarder';
import { type EventStoreConformanceContext } from './event-store.conformance';
import {
  event,
  expectStrictlyIncreasing,
  range,
  uniqueName,
  waitFor,
} from './event-store.conformance.fixtures';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A deadline for waits that take several reads of a slow backend (FerretDB under load). */
const SLOW_READS_MS = 30_000;

/** Checkpoints of filtered reads (readAllPage, Subscription.position) and unreadable events. */
export function checkpointScenarios(context: EventStoreConformanceContext): void {
  const store = () => context.harness().store;

  it('moves a type-filtered subscription past the events it filters out, to the end of the log', async () => {
    const rare = uniqueName('Rare');
    const common = uniqueName('Common');
    const streamId = uniqueName('rare');
    const first = await store().append(streamId, [event(rare, 1)], {
      expectedVersion: 'no-stream',
    });
    const from = (first.positions[0] ?? 1) - 1;
    const received: StoredEvent[] = [];
    const subscription = store().subscribe({
      fromPosition: from,
      types: [rare],
      limit: 10,
      pollIntervalMs: 20,
      handler: (e) => {
        received.push(e);
      },
    });
    await waitFor(() => received.length === 1);
    // Other types only from now on, more than a page, in several streams and appends.
    let last = 0;
    for (const n of range(1, 15)) {
      const appended = await store().append(
        uniqueName('common'),
        [event(common, n), event(common, n)],
        { expectedVersion: 'no-stream' },
      );
      last = appended.positions[1] ?? 0;
    }
    await waitFor(() => subscription.position >= last);
    expect(received).toHaveLength(1);

    // A page from the old checkpoint says the same: nothing to deliver, resume from the end.
    const page = await store().readAllPage({
      fromPosition: first.positions[0],
      types: [rare],
      limit: 10,
    });
    expect(page.events).toEqual([]);
    expect(page.position).toBeGreaterThanOrEqual(last);
    expect(page.caughtUp).toBe(true);

    // A matching event after that is still delivered, exactly once.
    const next = await store().append(streamId, [event(rare, 2)], { expectedVersion: 1 });
    await waitFor(() => received.length === 2);
    await pause(100);
    await subscription.stop();
    expect(received.map((e) => e.data)).toEqual([1, 2]);
    expect(received[1]?.position).toBe(next.positions[0]);
    expect(subscription.position).toBeGreaterThanOrEqual(next.positions[0] ?? Infinity);
    // A restart from the saved checkpoint finds nothing again.
    expect(
      (await store().readAll({ fromPosition: subscription.position, types: [rare] })).length,
    ).toBe(0);
  });

  it('stops when its own handler stops it ("read until X"): after that event, and stop resolves', async () => {
    const type = uniqueName('Until');
    const streamId = uniqueName('until');
    const appended = await store().append(
      streamId,
      range(1, 5).map((n) => event(type, n)),
      {
        expectedVersion: 'no-stream',
      },
    );
    const received: number[] = [];
    let stoppedFromHandler = false;
    const subscription: Subscription = store().subscribe({
      fromPosition: (appended.positions[0] ?? 1) - 1,
      types: [type],
      pollIntervalMs: 20,
      handler: async (e) => {
        received.push(e.data as number);
        if (e.data === 3) {
          await subscription.stop();
          stoppedFromHandler = true;
        }
      },
    });
    await waitFor(() => stoppedFromHandler);
    // Stopped after the event in flight: the one whose handler stopped it counts as delivered.
    await subscription.stop();
    expect(received).toEqual([1, 2, 3]);
    expect(subscription.position).toBe(appended.positions[2]);
  });

  it('tells onCaughtUp, with its position, once it has delivered every event there was', async () => {
    const type = uniqueName('Caught');
    const streamId = uniqueName('caught');
    const appended = await store().append(
      streamId,
      [event(type, 1), event(type, 2), event(type, 3)],
      {
        expectedVersion: 'no-stream',
      },
    );
    const received: StoredEvent[] = [];
    const calls: { delivered: number; position: number }[] = [];
    const subscription = store().subscribe({
      fromPosition: (appended.positions[0] ?? 1) - 1,
      types: [type],
      limit: 2,
      pollIntervalMs: 20,
      handler: (e) => {
        received.push(e);
      },
      onCaughtUp: (position) => calls.push({ delivered: received.length, position }),
    });
    await waitFor(() => calls.length > 0);
    expect(calls[0]!.delivered).toBe(3);
    expect(calls[0]!.position).toBeGreaterThanOrEqual(appended.positions[2] ?? Infinity);
    const next = await store().append(streamId, [event(type, 4)], { expectedVersion: 3 });
    await waitFor(() => calls.some((call) => call.delivered === 4));
    await subscription.stop();
    const live = calls.find((call) => call.delivered === 4)!;
    expect(live.position).toBeGreaterThanOrEqual(next.positions[0] ?? Infinity);
    // Never called before the events there were had all been delivered.
    expect(calls.every((call) => call.delivered >= 3)).toBe(true);
  });

  it('stops, naming the checkpoint and the end of the log, when started from past that end', async () => {
    // A checkpoint of another log (the store emptied or re-created, another prefix or database):
    // polling there waited for ever, and the events appended meanwhile, at positions up to the
    // checkpoint, were never delivered.
    const type = uniqueName('Ahead');
    const appended = await store().append(uniqueName('ahead'), [event(type, 1)], {
      expectedVersion: 'no-stream',
    });
    const last = appended.positions[0]!;
    const from = last + 10_000_000;
    const errors: unknown[] = [];
    const received: StoredEvent[] = [];
    const caughtUp: number[] = [];
    for (const types of [undefined, [type]]) {
      const subscription = store().subscribe({
        fromPosition: from,
        ...(types && { types }),
        pollIntervalMs: 20,
        handler: (e) => {
          received.push(e);
        },
        onCaughtUp: (position) => caughtUp.push(position),
        onError: (error) => errors.push(error),
      });
      try {
        await waitFor(() => errors.length > 0, SLOW_READS_MS);
      } finally {
        await subscription.stop();
      }
      expect(subscription.position).toBe(from);
      const [error] = errors.splice(0) as (Error & { fromPosition: number; end: number })[];
      expect(error).toBeInstanceOf(CheckpointPastEndError);
      expect(error!.fromPosition).toBe(from);
      expect(error!.end).toBeGreaterThanOrEqual(last);
      expect(error!.end).toBeLessThan(from);
      expect(error!.message).toContain(
        `subscription fromPosition ${from} is past the end of the event store's log ` +
          `(${error!.end})`,
      );
    }
    expect(received).toEqual([]);
    expect(caughtUp).toEqual([]);
    // From the end itself, it follows the log as usual.
    const subscription = store().subscribe({
      fromPosition: last,
      types: [type],
      pollIntervalMs: 20,
      handler: (e) => {
        received.push(e);
      },
      onError: (error) => errors.push(error),
    });
    try {
      const next = await store().append(uniqueName('ahead'), [event(type, 2)], {
        expectedVersion: 'no-stream',
      });
      await waitFor(() => received.length === 1, SLOW_READS_MS);
      expect(received[0]?.position).toBe(next.positions[0]);
    } finally {
      await subscription.stop();
    }
    expect(errors).toEqual([]);
  });

  it('an EventForwarder started from a checkpoint past the end of the log says so, naming both, and forwards nothing until it is moved', async () => {
    // The event store emptied or restored while the checkpoint store kept its position: the
    // forwarder read nothing past it every round, without a word, and the events appended
    // meanwhile (at positions up to the checkpoint) never reached the bus.
    const type = uniqueName('Outboxed');
    const appended = await store().append(uniqueName('outboxed'), [event(type, 1)], {
      expectedVersion: 'no-stream',
    });
    const last = appended.positions[0]!;
    const ahead = last + 10_000_000;
    const checkpoints = new InMemoryCheckpointStore();
    const name = uniqueName('outbox');
    await checkpoints.save(name, ahead);
    const published: Envelope[] = [];
    const errors: unknown[] = [];
    const forwarder = new EventForwarder({
      store: store(),
      publisher: {
        publish: async (_topic, messages) => {
          published.push(...messages);
        },
        close: async () => undefined,
      },
      checkpoints,
      name,
      types: [type],
      topicOf: (e) => `events.${e.type}`,
      pollIntervalMs: 20,
      onError: (error) => errors.push(error),
    });
    forwarder.start();
    try {
      await waitFor(() => errors.length >= 2, SLOW_READS_MS);
      const error = errors[0] as CheckpointPastEndError;
      expect(error).toBeInstanceOf(CheckpointPastEndError);
      expect(error.fromPosition).toBe(ahead);
      expect(error.end).toBeGreaterThanOrEqual(last);
      expect(error.end).toBeLessThan(ahead);
      expect(error.message).toContain(
        `event forwarder ${name}'s checkpoint ${ahead} is past the end of the event store's ` +
          `log (${error.end})`,
      );
      expect(errors[1]).toBe(error);
      expect(forwarder.failing?.error).toBe(error);
      expect(await checkpoints.load(name)).toBe(ahead);
      // Moved to a position of this log (as checkpoints.reset does, to 0), it goes on from there.
      await checkpoints.reset(name);
      await checkpoints.save(name, last);
      const next = await store().append(uniqueName('outboxed'), [event(type, 2)], {
        expectedVersion: 'no-stream',
      });
      await waitFor(() => published.length === 1, SLOW_READS_MS);
      expect(published[0]?.data).toBe(2);
      await waitFor(() => forwarder.failing === undefined, SLOW_READS_MS);
      expect(await checkpoints.load(name)).toBeGreaterThanOrEqual(next.positions[0]!);
    } finally {
      await forwarder.stop();
    }
  });

  it('stops and says so when onCaughtUp fails, by a throw or a rejected promise', async () => {
    const type = uniqueName('Hooked');
    const streamId = uniqueName('hooked');
    const appended = await store().append(streamId, [event(type, 1), event(type, 2)], {
      expectedVersion: 'no-stream',
    });
    const subscribe = (onCaughtUp: () => unknown, onError?: (error: unknown) => void) => {
      const received: unknown[] = [];
      const subscription = store().subscribe({
        fromPosition: (appended.positions[0] ?? 1) - 1,
        types: [type],
        pollIntervalMs: 20,
        handler: (e) => void received.push(e.data),
        onCaughtUp: onCaughtUp as () => void,
        ...(onError && { onError }),
      });
      return { received, subscription };
    };
    // An async hook (saving a checkpoint while its store is away) rejected, and nobody handled
    // the rejection: Node ended the process. A throwing one was reported as a failed read.
    const hooks = [
      async () => {
        throw new Error(`async hook down ${streamId}`);
      },
      () => {
        throw new Error(`hook down ${streamId}`);
      },
    ];
    for (const hook of hooks) {
      const errors: unknown[] = [];
      const { received, subscription } = subscribe(hook, (error) => errors.push(error));
      await waitFor(() => errors.length > 0, SLOW_READS_MS);
      await subscription.stop();
      expect(received).toEqual([1, 2]);
      expect(errors).toHaveLength(1);
      expect((errors[0] as Error).message).toContain(`hook down ${streamId}`);
      // Every event was delivered: the checkpoint to subscribe again from is past them.
      expect(subscription.position).toBeGreaterThanOrEqual(appended.positions[1] ?? Infinity);
    }
    // Without onError: the warning names the hook, not a read of the log.
    const emitWarning = process.emitWarning;
    const warnings: string[] = [];
    process.emitWarning = ((warning: string | Error) => {
      if (String(warning).includes(streamId)) warnings.push(String(warning));
    }) as typeof process.emitWarning;
    try {
      const { subscription } = subscribe(hooks[0]!);
      await waitFor(() => warnings.length > 0, SLOW_READS_MS);
      await subscription.stop();
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(`its onCaughtUp failed: Error: async hook down ${streamId}`);
      expect(warnings[0]).not.toContain('reading the log failed');
    } finally {
      process.emitWarning = emitWarning;
    }
  });

  it('never lets a filtered checkpoint skip an event: concurrent writers of mixed types, a restarting subscription and a page reader', async () => {
    const harness = context.harness();
    const wanted = uniqueName('Wanted');
    const other = uniqueName('Other');
    const writers = 4;
    const appendsPerWriter = 40;
    const stores: EventStore[] = await Promise.all([harness.connect(), harness.connect()]);
    const reader = await harness.connect();
    const marker = await harness.store.append(uniqueName('mixed-start'), [event(other, 0)], {
      expectedVersion: 'no-stream',
    });
    const start = marker.positions[0] ?? 0;

    // Each append is 1-3 events; the wanted type is one in three, so pages and commits mix them.
    const typeOf = (w: number, i: number, k: number) => ((w + i + k) % 3 === 0 ? wanted : other);
    const sizeOf = (i: number) => 1 + (i % 3);
    let expected = 0;
    for (const w of range(0, writers - 1))
      for (const i of range(0, appendsPerWriter - 1))
        for (const k of range(0, sizeOf(i) - 1)) if (typeOf(w, i, k) === wanted) expected++;

    let writing = true;
    // A subscription restarted from its checkpoint every few tens of ms, as a crashing consumer.
    const delivered: StoredEvent[] = [];
    const subscribeFrom = (fromPosition: number): Subscription =>
      reader.subscribe({
        fromPosition,
        types: [wanted],
        limit: 10,
        pollIntervalMs: 5,
        handler: (e) => {
          delivered.push(e);
        },
        onError: (error) => {
          throw error;
        },
      });
    let subscription = subscribeFrom(start);
    const restarts = (async () => {
      while (writing) {
        await pause(30);
        await subscription.stop();
        subscription = subscribeFrom(subscription.position);
      }
    })();
    // A reader that saves each page's checkpoint and resumes from it.
    const paged: StoredEvent[] = [];
    let done = false;
    const pages = (async () => {
      let from = start;
      while (!done) {
        const page = await reader.readAllPage({ fromPosition: from, types: [wanted], limit: 8 });
        for (const e of page.events) {
          expect(e.type).toBe(wanted);
          expect(e.position).toBeGreaterThan(from);
        }
        expect(page.position).toBeGreaterThanOrEqual(
          Math.max(from, page.events.at(-1)?.position ?? 0),
        );
        paged.push(...page.events);
        from = page.position;
        if (page.caughtUp) await pause(5);
      }
    })();

    const writes = await Promise.allSettled(
      range(0, writers - 1).map(async (w) => {
        const store = stores[w % stores.length]!;
        const streamId = `${wanted}/writer-${w}`;
        let version = 0;
        for (const i of range(0, appendsPerWriter - 1)) {
          const events = range(0, sizeOf(i) - 1).map((k) => event(typeOf(w, i, k), { w, i, k }));
          await store.append(streamId, events, { expectedVersion: version });
          version += events.length;
        }
      }),
    );
    writing = false;
    for (const write of writes) if (write.status === 'rejected') throw write.reason;
    await restarts;
    // Both readers catch up (or, if one skipped an event, the comparison below shows which). On
    // FerretDB each filtered read scans the log: on a machine busy with other work, 30 s was
    // once not enough (a test that failed only by being slow).
    await waitFor(() => delivered.length >= expected && paged.length >= expected, 75_000).catch(
      () => undefined,
    );
    await pause(100);
    done = true;
    await subscription.stop();
    await pages;

    const log = await harness.store.readAll({ fromPosition: start, types: [wanted] });
    expect(log).toHaveLength(expected);
    for (const seen of [delivered, paged]) {
      expectStrictlyIncreasing(seen.map((e) => e.position));
      expect(seen.map((e) => `${e.streamId}@${e.version}`)).toEqual(
        log.map((e) => `${e.streamId}@${e.version}`),
      );
    }
  }, 180_000);

  it(
    'delivers the events before an unreadable one, then stops with an error that names it',
    async () => {
      const harness = context.harness();
      const type = uniqueName('Fragile');
      const noise = uniqueName('Noise');
      const broken = uniqueName('broken');
      const before = await store().append(uniqueName('before'), [event(type, 'b1')], {
        expectedVersion: 'no-stream',
      });
      await store().append(uniqueName('noise'), [event(noise, 'n1')], {
        expectedVersion: 'no-stream',
      });
      const written = [event(type, 'x1'), event(type, 'x2'), event(type, 'x3')];
      const middle = await store().append(broken, written, { expectedVersion: 'no-stream' });
      await store().append(uniqueName('after'), [event(type, 'a1')], {
        expectedVersion: 'no-stream',
      });
      await harness.corrupt(broken, 2);
      const from = (before.positions[0] ?? 1) - 1;
      const [good, bad] = [middle.positions[0] ?? 0, middle.positions[1] ?? 0];

      const run = async (types: string[] | undefined) => {
        const received: StoredEvent[] = [];
        const errors: unknown[] = [];
        const subscription = store().subscribe({
          fromPosition: from,
          types,
          limit: 10,
          pollIntervalMs: 20,
          handler: (e) => {
            received.push(e);
          },
          onError: (error) => errors.push(error),
        });
        // Several pages of reads to get there: on a slow backend (FerretDB on a loaded machine)
        // that can take longer than the default 10 s.
        await waitFor(() => errors.length === 1, SLOW_READS_MS);
        await subscription.stop();
        return { received: received.map((e) => e.data), error: errors[0], subscription };
      };
      const facts = {
        streamId: broken,
        version: 2,
        position: bad,
        messageId: written[1]?.messageId,
      };

      const filtered = await run([type]);
      expect(filtered.received).toEqual(['b1', 'x1']);
      expect(filtered.error).toBeInstanceOf(ChecksumMismatchError);
      expect(filtered.error).toMatchObject(facts);
      expect((filtered.error as Error).message).toContain(broken);
      expect((filtered.error as Error).message).toContain(`position ${bad}`);
      expect(filtered.subscription.position).toBeGreaterThanOrEqual(good);
      expect(filtered.subscription.position).toBeLessThan(bad);

      const unfiltered = await run(undefined);
      expect(unfiltered.received).toEqual(['b1', 'n1', 'x1']);
      expect(unfiltered.error).toBeInstanceOf(ChecksumMismatchError);
      expect(unfiltered.error).toMatchObject(facts);
      expect(unfiltered.subscription.position).toBe(good);

      await expect(
        store().readAllPage({ fromPosition: from, types: [type] }),
      ).rejects.toMatchObject(facts);

      // The operator removes the event (here by truncating its stream past it); a restart from the
      // saved position resumes right there.
      await store().truncateStream(broken, 3);
      const resumed: StoredEvent[] = [];
      const again = store().subscribe({
        fromPosition: filtered.subscription.position,
        types: [type],
        pollIntervalMs: 20,
        handler: (e) => {
          resumed.push(e);
        },
      });
      await waitFor(() => resumed.length === 2, SLOW_READS_MS);
      await pause(100);
      await again.stop();
      expect(resumed.map((e) => e.data)).toEqual(['x3', 'a1']);
      await store().deleteStream(broken, { mode: 'hard' });
    },
    4 * SLOW_READS_MS,
  );
}
