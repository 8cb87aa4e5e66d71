import { InMemoryEventStore } from './in-memory/in-memory.event-store';
import { testEnvelope } from '../testing/envelope.fixture';
import { type Subscription } from './event-store.port';

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
