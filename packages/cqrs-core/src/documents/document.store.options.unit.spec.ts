import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { InMemorySnapshotStore } from '../snapshots/in-memory.snapshot-store';
import { SnapshotPolicies } from '../snapshots/snapshot.policy';
import { documentCollection } from './document.collection';
import { DocumentStore, type DocumentStoreOptions } from './document.store';

// Settings a DocumentStore cannot work with were taken when it was built: the first read or write
// failed instead ("Cannot read properties of undefined (reading 'readStream')"), or a NaN
// backoff retried conflicts back to back. They are refused when it is built, naming them.
describe('DocumentStore options', () => {
  const eventStore = new InMemoryEventStore();
  const snapshots = { store: new InMemorySnapshotStore(), schemaVersion: 1 };
  const cases: [string, unknown, string][] = [
    ['no options', undefined, 'DocumentStore: options must be an object, got undefined'],
    [
      'no event store',
      {},
      'DocumentStore: options.eventStore must be an EventStore (readStream, append, streamInfo), got undefined',
    ],
    [
      'an event store that is none',
      { eventStore: 'mongodb://x' },
      'DocumentStore: options.eventStore must be an EventStore (readStream, append, streamInfo), got "mongodb://x"',
    ],
    [
      'snapshots without a store',
      { eventStore, snapshots: { policy: SnapshotPolicies.always, schemaVersion: 1 } },
      'DocumentStore: options.snapshots.store must be a SnapshotStore (loadLatest, save, list), got undefined',
    ],
    [
      'snapshots without a policy',
      { eventStore, snapshots },
      'DocumentStore: options.snapshots.policy must be a SnapshotPolicy function (e.g. SnapshotPolicies.everyEvents(100)), got undefined',
    ],
    [
      'snapshots whose schema version is NaN (read from an unset variable)',
      {
        eventStore,
        snapshots: {
          ...snapshots,
          policy: SnapshotPolicies.always,
          schemaVersion: Number(undefined),
        },
      },
      'DocumentStore: options.snapshots.schemaVersion must be an integer, got NaN',
    ],
    [
      'no attempt at all',
      { eventStore, retry: { maxAttempts: 0 } },
      'DocumentStore: options.retry.maxAttempts must be an integer >= 1 (1: no retry), got 0',
    ],
    [
      'attempts read from the environment as a string',
      { eventStore, retry: { maxAttempts: '3' } },
      'DocumentStore: options.retry.maxAttempts must be an integer >= 1 (1: no retry), got "3"',
    ],
    [
      'a NaN first delay',
      { eventStore, retry: { initialDelayMs: Number(undefined) } },
      'DocumentStore: options.retry.initialDelayMs must be a non-negative number of milliseconds, got NaN',
    ],
    [
      'a negative largest delay',
      { eventStore, retry: { maxDelayMs: -1 } },
      'DocumentStore: options.retry.maxDelayMs must be a non-negative number of milliseconds, got -1',
    ],
  ];
  it.each(cases)('refuses %s when built, naming it', (_case, options, message) => {
    expect(() => new DocumentStore(options as DocumentStoreOptions)).toThrow(
      new TypeError(message),
    );
  });

  it('takes every option it documents', async () => {
    const store = new DocumentStore({
      eventStore,
      snapshots: { ...snapshots, policy: SnapshotPolicies.everyEvents(2) },
      retry: { maxAttempts: 1, initialDelayMs: 0, maxDelayMs: 50 },
    });
    const notes = documentCollection('notes');
    await store.update(notes, 'n1', () => ({ text: 'kept' }));
    await expect(store.get(notes, 'n1')).resolves.toMatchObject({ document: { text: 'kept' } });
  });
});
