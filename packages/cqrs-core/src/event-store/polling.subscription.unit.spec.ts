import { InMemoryEventStore } from './in-memory/in-memory.event-store';
import { testEnvelope } from '../testing/envelope.fixture';
import { type Subscription } from './event-store.port';
import { pollingSubscription } from './polling.subscription';
import { SUBSCRIPTION_WARNING } from './subscription-failure.warning';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('pollingSubscription: stop() from work a handler started', () => {
  it('stop() called later by a timer the first handler started waits for the handler then in flight', async () => {
    const store = new InMemoryEventStore();
    await store.append('s', [testEnvelope('E', { n: 1 }), testEnvelope('E', { n: 2 })], {
      expectedVersion: 'no-stream',
    });
    let inSecond = false;
    let stopResolvedWhileSecondRan: boolean | undefined;
    let stopped!: Promise<void>;
    const subscription: Subscription = store.subscribe({
      fromPosition: 0,
      pollIntervalMs: 5,
      handler: async (event) => {
        if ((event.data as { n: number }).n === 1) {
          // e.g. a watchdog / debounce / lease timer first armed while handling an event
          setTimeout(() => {
            stopped = subscription.stop().then(() => {
              stopResolvedWhileSecondRan = inSecond;
            });
          }, 20);
          return;
        }
        inSecond = true;
        await sleep(200); // the second event is slow
        inSecond = false;
      },
    });
    await sleep(60);
    await stopped;
    // "resolves when stopped": not while a handler is still running
    expect(stopResolvedWhileSecondRan).toBe(false);
    await subscription.stop();
  });
});

describe('pollingSubscription: failures without onError', () => {
  const until = async (condition: () => boolean) => {
    for (let i = 0; i < 200 && !condition(); i++) await sleep(5);
  };

  it('warns once when its handler fails, naming where it stopped, the event and the error', async () => {
    // Observed, not replaced: jest's sandboxed `process` does not pass warnings to listeners.
    const warn = jest.spyOn(process, 'emitWarning');
    const ours = () =>
      warn.mock.calls.filter(
        ([, options]) => (options as { type?: string } | undefined)?.type === SUBSCRIPTION_WARNING,
      );
    try {
      const store = new InMemoryEventStore();
      const seen: number[] = [];
      const subscription = store.subscribe({
        fromPosition: 0,
        types: ['MoneyDeposited'],
        pollIntervalMs: 5,
        handler: (event) => {
          seen.push(event.version);
          if (event.version === 2) throw new Error('projection bug at v2');
        },
      });
      const written = [1, 2, 3, 4].map((n) => testEnvelope('MoneyDeposited', { n }));
      for (const envelope of written)
        await store.append('acc-1', [envelope], { expectedVersion: 'any' });
      await until(() => ours().length > 0);
      await sleep(50);
      await subscription.stop();
      expect(seen).toEqual([1, 2]);
      expect(subscription.position).toBe(1);
      expect(ours()).toEqual([
        [
          'event store subscription (types MoneyDeposited) stopped at position 1: its handler ' +
            `failed on MoneyDeposited ${written[1]?.messageId} (stream acc-1, version 2, ` +
            'position 2): Error: projection bug at v2. Later events are not delivered: fix the ' +
            'cause and subscribe again from position 1; pass onError to report it your way',
          { type: SUBSCRIPTION_WARNING, code: 'CAUSEWAY_SUBSCRIPTION_FAILED' },
        ],
      ]);
    } finally {
      warn.mockRestore();
    }
  });

  it('warns once when reading fails, with the error the read threw', async () => {
    const warn = jest.spyOn(process, 'emitWarning');
    try {
      let reads = 0;
      const subscription = pollingSubscription(
        () => {
          reads++;
          return Promise.reject(new Error('store unreachable'));
        },
        { fromPosition: 7, pollIntervalMs: 5, handler: () => undefined },
      );
      await until(() => warn.mock.calls.length > 0);
      await sleep(30);
      await subscription.stop();
      expect(reads).toBe(2); // the page, then one event at a time: both fail, then it stops
      expect(warn.mock.calls).toEqual([
        [
          'event store subscription stopped at position 7: reading the log failed: Error: store ' +
            'unreachable. Later events are not delivered: fix the cause and subscribe again from ' +
            'position 7; pass onError to report it your way',
          { type: SUBSCRIPTION_WARNING, code: 'CAUSEWAY_SUBSCRIPTION_FAILED' },
        ],
      ]);
    } finally {
      warn.mockRestore();
    }
  });

  it.each([
    [
      'throws',
      () => {
        throw new Error('log sink down');
      },
    ],
    ['returns a rejected promise', () => Promise.reject(new Error('log sink down'))],
  ])(
    'still stops cleanly and warns of the failure when onError %s (no unhandled rejection)',
    async (_, onError) => {
      const warn = jest.spyOn(process, 'emitWarning');
      try {
        const store = new InMemoryEventStore();
        const written = testEnvelope('E', { n: 1 });
        await store.append('s', [written], { expectedVersion: 'no-stream' });
        let called = 0;
        const subscription = store.subscribe({
          pollIntervalMs: 5,
          handler: () => {
            throw new Error('handler failed');
          },
          onError: (error) => {
            called++;
            return (onError as (e: unknown) => void)(error);
          },
        });
        await until(() => warn.mock.calls.length > 0);
        // It resolves: the report's failure is not the subscription's (it was a rejection
        // nobody handled, which ends a Node process, before stop() was ever called).
        await subscription.stop();
        expect(called).toBe(1);
        expect(warn.mock.calls).toEqual([
          [
            `event store subscription stopped at position 0: its handler failed on E ` +
              `${written.messageId} (stream s, version 1, position 1): Error: handler failed. ` +
              'Later events are not delivered: fix the cause and subscribe again from position ' +
              '0; onError failed on it too: Error: log sink down',
            { type: SUBSCRIPTION_WARNING, code: 'CAUSEWAY_SUBSCRIPTION_FAILED' },
          ],
        ]);
      } finally {
        warn.mockRestore();
      }
    },
  );

  it('says nothing itself when onError is given: onError hears the error', async () => {
    const warn = jest.spyOn(process, 'emitWarning');
    try {
      const store = new InMemoryEventStore();
      await store.append('s', [testEnvelope('E', { n: 1 })], { expectedVersion: 'no-stream' });
      const failure = new Error('handler failed');
      const errors: unknown[] = [];
      const subscription = store.subscribe({
        pollIntervalMs: 5,
        handler: () => {
          throw failure;
        },
        onError: (error) => errors.push(error),
      });
      await until(() => errors.length > 0);
      await subscription.stop();
      expect(errors).toEqual([failure]);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });
});
