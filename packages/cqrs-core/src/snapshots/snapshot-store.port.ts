import { type SnapshotEncoding } from './snapshot.codec';
import { type SnapshotDecodeError } from './snapshot.errors';

/** The state of one stream at one version, as the repository hands it to the store. */
export interface Snapshot<State = unknown> {
  readonly streamId: string;
  /**
   * Stream version the state includes: the version of the last event folded into it. A positive
   * integer (a stream's first event has version 1; an empty stream has nothing to snapshot).
   */
  readonly version: number;
  /**
   * Version of the aggregate's *state* schema (not of any event). Bump it whenever the state
   * shape or the evolve logic changes: every snapshot of an older schema is then ignored and
   * rebuilt from the events (S2-3). An integer.
   */
  readonly schemaVersion: number;
  /** Serialized by the store's snapshot serializer (JSON by default: plain data only). */
  readonly state: State;
  /**
   * ISO-8601 time the snapshot was taken (`new Date().toISOString()`), as a string. Read back
   * in UTC with milliseconds (`toISOString()`'s form) whatever form it was saved in.
   */
  readonly createdAt: string;
  readonly aggregateType?: string;
}

/** A snapshot as stored: also says how its state was encoded. */
export interface StoredSnapshot<State = unknown> extends Snapshot<State> {
  /** 'identity' (not compressed), 'gzip' or 'br' (brotli). */
  readonly encoding: SnapshotEncoding;
  /** Size of the stored payload in bytes (after compression). */
  readonly storedBytes: number;
  /** Size of the serialized state in bytes (before compression). */
  readonly rawBytes: number;
}

/** A stored snapshot without its state, for listings. */
export type SnapshotInfo = Omit<StoredSnapshot, 'state'>;

export interface LoadSnapshotOptions {
  /**
   * The aggregate's current state schema version (an integer, as `save` takes it); snapshots of
   * any other version are ignored.
   */
  schemaVersion: number;
}

export interface SnapshotStoreOptions {
  /**
   * Retention: `save` keeps the newest `keep` snapshots (by version) of the stream in the
   * schema version it saves, and the newest one of each other schema version, and removes the
   * rest. Default 2 (one spare if the newest is unreadable). Keeping one per other schema
   * version lets the instances of two releases (a rolling deploy that bumps the snapshot
   * `schemaVersion`) keep loading from their own snapshot instead of evicting each other's.
   * The cost: one snapshot per stream and retired schema version stays until the stream's
   * snapshots are deleted (`delete(streamId)` removes all of them; the next load and save
   * write a new one).
   */
  keep?: number;
  /**
   * A snapshot `loadLatest` passed over because it cannot be decoded (a corrupt payload, a
   * state the serializer refuses). Default: a process warning (`CAUSEWAY_SNAPSHOT_UNREADABLE`).
   */
  onUnreadable?: (error: SnapshotDecodeError) => void;
}

/** Reports an unreadable snapshot through `onUnreadable`, or as a process warning. */
export function reportUnreadable(
  onUnreadable: SnapshotStoreOptions['onUnreadable'],
  error: SnapshotDecodeError,
): void {
  if (onUnreadable) {
    try {
      onUnreadable(error);
    } catch {
      // A failing hook must not fail the load.
    }
    return;
  }
  process.emitWarning(error.message, { code: 'CAUSEWAY_SNAPSHOT_UNREADABLE' });
}

/**
 * Snapshot store port (S2-3). Implementations: in-memory (`InMemorySnapshotStore`), MongoDB
 * (`MongoSnapshotStore`) and Redis (`RedisSnapshotStore`); all pass
 * `describeSnapshotStoreConformance` from `@causeway/cqrs-core/testing`.
 *
 * Contract:
 * - A snapshot is an optimisation, never the source of truth: the events are. Losing every
 *   snapshot must only cost replay time, so callers treat store failures as non-fatal.
 * - `save` refuses, with a TypeError naming the field (`snapshot.version must be a positive
 *   integer, got -1`), a snapshot whose streamId is not one an event store takes (a
 *   non-empty string, not blank, at most 1 024 characters, no NUL, well-formed Unicode), version not a
 *   positive integer, schemaVersion not an integer or createdAt not an ISO-8601 time string,
 *   before anything is written (`checkSnapshot`).
 * - `loadLatest` refuses, with a TypeError naming `schemaVersion`, options whose schemaVersion
 *   is not an integer (NaN, the string '1'), before anything is read
 *   (`checkLoadSnapshotOptions`).
 * - `loadLatest`, `list` and `delete` refuse, with a TypeError naming `streamId`, a streamId
 *   that `save` would refuse (an object such as `{ $ne: null }` from untyped input), before
 *   anything is read or deleted (`checkSnapshotStreamId`).
 * - `save` is idempotent per (streamId, version, schemaVersion): saving it again replaces it.
 *   After `save` resolves, `loadLatest` sees it, and at most `keep` snapshots
 *   of the stream in its schema version remain, plus the newest of each other schema version.
 * - `loadLatest` returns the snapshot with the highest version among those whose
 *   `schemaVersion` equals the requested one; snapshots of an older (or newer) aggregate
 *   schema are ignored, never returned. One that cannot be decoded is passed over (reported
 *   through `onUnreadable`) for the next older one — the spare `keep` leaves — and when none
 *   can be read it returns undefined: the caller replays the events.
 * - The state comes back equal to what was saved after a serializer round trip (the default
 *   JSON serializer keeps plain objects, arrays, strings — any unicode —, finite numbers,
 *   booleans and null). Large states are compressed; the encoding is recorded per snapshot.
 * - Safe to call concurrently. Concurrent saves of one stream may briefly leave more than
 *   the retention allows; the next save trims again.
 */
export interface SnapshotStore {
  /** Creates collections and indexes. Idempotent; call once at start-up. */
  init(): Promise<void>;
  save(snapshot: Snapshot): Promise<void>;
  loadLatest<State = unknown>(
    streamId: string,
    options: LoadSnapshotOptions,
  ): Promise<StoredSnapshot<State> | undefined>;
  /** The stream's snapshots without state, newest (highest version) first. */
  list(streamId: string): Promise<SnapshotInfo[]>;
  /** Deletes every snapshot of the stream; returns how many were deleted. */
  delete(streamId: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * The retention count of SnapshotStoreOptions, validated (default 2).
 * @throws RangeError unless an integer >= 1
 */
export function snapshotRetention(keep: number | undefined): number {
  const value = keep ?? 2;
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`keep must be an integer >= 1, got ${keep}`);
  }
  return value;
}

/**
 * The snapshots `save` removes under the retention of SnapshotStoreOptions.keep, after saving
 * one of `savedSchemaVersion`: beyond the newest `keep` of that schema version, and beyond the
 * newest one of each other schema version. `snapshots` are one stream's, in any order.
 */
export function beyondRetention<S extends { version: number; schemaVersion: number }>(
  snapshots: readonly S[],
  savedSchemaVersion: number,
  keep: number,
): S[] {
  const kept = new Map<number, number>();
  return [...snapshots]
    .sort((a, b) => b.version - a.version)
    .filter((snapshot) => {
      const count = (kept.get(snapshot.schemaVersion) ?? 0) + 1;
      kept.set(snapshot.schemaVersion, count);
      return count > (snapshot.schemaVersion === savedSchemaVersion ? keep : 1);
    });
}
