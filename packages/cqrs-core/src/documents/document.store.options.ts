import { shownValue } from '../config/shown-value';

/**
 * Refuses, when a DocumentStore is built, options its first write or read would fail on (or
 * misuse without a word): an event store without the methods the store calls, a snapshot
 * setting without a store, policy or integer schema version, retry settings out of range (a NaN delay, from a
 * `Number(env)` of nothing, retried conflicts back to back).
 * @throws TypeError naming the option, what it must be and the value given
 */
export function checkDocumentStoreOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null)
    throw new TypeError(`DocumentStore: options must be an object, got ${shownValue(options)}`);
  const { eventStore, snapshots, retry } = options as Record<string, unknown>;
  const missing = (value: unknown, methods: readonly string[]) =>
    typeof value !== 'object' ||
    value === null ||
    methods.some((method) => typeof (value as Record<string, unknown>)[method] !== 'function');
  if (missing(eventStore, ['readStream', 'append', 'streamInfo']))
    throw new TypeError(
      `DocumentStore: options.eventStore must be an EventStore (readStream, append, streamInfo), got ${shownValue(eventStore)}`,
    );
  if (snapshots !== undefined) {
    const { store, policy, schemaVersion } = (snapshots ?? {}) as Record<string, unknown>;
    if (missing(store, ['loadLatest', 'save', 'list']))
      throw new TypeError(
        `DocumentStore: options.snapshots.store must be a SnapshotStore (loadLatest, save, list), got ${shownValue(store)}`,
      );
    if (typeof policy !== 'function')
      throw new TypeError(
        `DocumentStore: options.snapshots.policy must be a SnapshotPolicy function (e.g. SnapshotPolicies.everyEvents(100)), got ${shownValue(policy)}`,
      );
    // Every snapshot load and save refused it, with a warning each: no snapshot was ever taken.
    if (!Number.isSafeInteger(schemaVersion))
      throw new TypeError(
        `DocumentStore: options.snapshots.schemaVersion must be an integer, got ${shownValue(schemaVersion)}`,
      );
  }
  if (retry === undefined) return;
  if (typeof retry !== 'object' || retry === null)
    throw new TypeError(`DocumentStore: options.retry must be an object, got ${shownValue(retry)}`);
  const { maxAttempts, initialDelayMs, maxDelayMs } = retry as Record<string, unknown>;
  if (
    maxAttempts !== undefined &&
    !(Number.isSafeInteger(maxAttempts) && (maxAttempts as number) >= 1)
  )
    throw new TypeError(
      `DocumentStore: options.retry.maxAttempts must be an integer >= 1 (1: no retry), got ${shownValue(maxAttempts)}`,
    );
  for (const [name, value] of [
    ['initialDelayMs', initialDelayMs],
    ['maxDelayMs', maxDelayMs],
  ] as const)
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value >= 0))
      throw new TypeError(
        `DocumentStore: options.retry.${name} must be a non-negative number of milliseconds, got ${shownValue(value)}`,
      );
}
