import { type DeadLetterQueue } from '../dead-letters/dead-letter-queue.port';
import { type EventStore } from '../event-store/event-store.port';
import { type MessageSerializer } from '../messages/serializer.port';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { InMemoryCheckpointStore } from './checkpoint-store.port';
import { EventForwarder } from './event.forwarder';

// For the forwarder's tests: rounds run on their own, so a test waits for what they did.

/** Resolves once `done()` holds, checking every 5 ms; rejects after `timeoutMs`. */
export async function until(done: () => boolean, timeoutMs = 5_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !done();) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * A forwarder of `store` (polling every 5 ms) to an in-memory broker over `serializer`, whose
 * subscriber of `events.Moved` notes each event's `n` in `seen`; the rounds' errors in `errors`.
 */
export async function forwarderToBroker(options: {
  store: EventStore;
  serializer: MessageSerializer;
  deadLetters?: DeadLetterQueue;
}) {
  const broker = new InMemoryBroker({ serializer: options.serializer });
  const seen: number[] = [];
  await broker
    .subscriber()
    .subscribe(['events.Moved'], { group: 'g', consumer: 'c' }, async (d) => {
      seen.push((d.envelope.data as { n: number }).n);
    });
  const errors: unknown[] = [];
  const checkpoints = new InMemoryCheckpointStore();
  const forwarder = new EventForwarder({
    store: options.store,
    publisher: broker,
    checkpoints,
    topicOf: (event) => `events.${event.type}`,
    pollIntervalMs: 5,
    deadLetters: options.deadLetters,
    onError: (e) => errors.push(e),
  });
  return { broker, seen, errors, checkpoints, forwarder };
}
