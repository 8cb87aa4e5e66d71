import { PermanentError } from '../router/handler.errors';

/**
 * The stream does not continue where the snapshot ends: events after the snapshot are gone
 * (truncated, removed by retention, or the stream was deleted after more events and created
 * again while its snapshots stayed). Folding what is left would build a wrong state silently.
 * Not raised when a stream was soft-deleted right at its latest snapshot and created again: the
 * new events follow the snapshot's version, and the load folds them onto the old state. Delete
 * a stream's snapshots when you delete it.
 */
export class SnapshotGapError extends Error {
  constructor(
    readonly streamId: string,
    readonly snapshotVersion: number,
    /** The first version the stream still has after the snapshot. */
    readonly firstVersion: number,
  ) {
    super(
      `Stream ${streamId}: the snapshot is at version ${snapshotVersion} but the stream goes on ` +
        `at ${firstVersion}; events ${snapshotVersion + 1}..${firstVersion - 1} are missing ` +
        `(truncate or apply retention only up to the latest snapshot; delete a deleted stream's ` +
        `snapshots with it)`,
    );
    this.name = 'SnapshotGapError';
  }
}

/**
 * The stream starts after version 1, or has no event left (its first events, or all of them,
 * were truncated or removed by retention) and no snapshot can be used: none was taken, or
 * those kept were written by another state schema version, or are unreadable. Nothing holds
 * the state of the removed events, so no load can be right. Without any snapshot, the stream's
 * StreamInfo.truncated tells a cut from a stream soft-deleted and created again, which is
 * folded from the initial state (a deleted stream's snapshots are deleted with it); a Redis
 * stream cut before session 49 carries no mark until its next cut, and is folded as before.
 */
export class StateNotRebuildableError extends Error {
  constructor(
    readonly streamId: string,
    /** The first version the stream still has (its last version + 1 when none is left). */
    readonly firstVersion: number,
    /** The schema versions of the snapshots found, none of them usable; empty: none found. */
    readonly snapshotSchemas: readonly number[],
    /** The repository's state schema version; undefined without snapshots configured. */
    readonly schemaVersion: number | undefined,
  ) {
    super(
      snapshotSchemas.length === 0
        ? `Stream ${streamId} starts at version ${firstVersion}: its events before it were ` +
            `removed (truncated, or cut by retention) and no snapshot covers them, so its ` +
            `state cannot be rebuilt. Keep a snapshot ahead of what retention and truncation ` +
            `remove (the repository's snapshots), or restore the removed events`
        : `Stream ${streamId} starts at version ${firstVersion} (events before it were removed) ` +
            `and has no usable snapshot for state schema version ${schemaVersion} (found ` +
            `schema ${[...new Set(snapshotSchemas)].join(', ')}): its state cannot be rebuilt. ` +
            `Read the older snapshots (StateModel.fromSnapshot, or keep their schema version) ` +
            `or restore the removed events`,
    );
    this.name = 'StateNotRebuildableError';
  }
}

/**
 * A command with an id (see CommandCall.commandId) came to a stream whose first events were
 * removed (truncated, or cut by retention: StreamInfo.truncated) and from which no snapshot was
 * loaded: it is not among the events left, but it may have been among those removed, so
 * whether it was applied already cannot be told, and deciding it could apply it twice (a
 * redelivery). Nothing was decided or appended. Permanent: retrying cannot bring the events
 * back. Keep a snapshot ahead of what retention and truncation remove (the repository's
 * `snapshots`; retention of an aggregate's stream must stop at its latest snapshot), or
 * restore the removed events. Thrown by the load for the command
 * (`EventSourcedRepository.load` with a `commandId`, as commandHandler's).
 */
export class CommandHistoryRemovedError extends PermanentError {
  constructor(
    readonly streamId: string,
    readonly commandId: string,
    /** The first version the stream still has (its last version + 1 when none is left). */
    readonly firstVersion: number,
  ) {
    super(
      `Command ${commandId} on stream ${streamId}: the stream's events before version ` +
        `${firstVersion} were removed (truncated, or cut by retention) and no snapshot was ` +
        `loaded, so whether the command was applied already cannot be told; nothing was ` +
        `decided or appended. Keep a snapshot ahead of what retention removes, or restore ` +
        `the removed events`,
    );
    this.name = 'CommandHistoryRemovedError';
  }
}

/**
 * The stream holds events (or a snapshot) of another aggregate type than the repository's: two
 * aggregate types were given the same stream id (give each type its own stream id prefix, e.g.
 * `account-<id>`). Thrown by the load, so nothing is decided or written on such a stream. An
 * aggregate type that was renamed is accepted through `RepositoryOptions.formerAggregateTypes`.
 */
export class AggregateTypeMismatchError extends Error {
  constructor(
    readonly streamId: string,
    /** The repository's `aggregateType`. */
    readonly expectedType: string,
    /** The `aggregateType` found on the stream's event or snapshot. */
    readonly foundType: string,
    /** Where it was found: an event (with its version) or the latest snapshot. */
    readonly foundIn: { event: number } | 'snapshot',
  ) {
    super(
      `Stream ${streamId} belongs to aggregate type ${JSON.stringify(foundType)}, not ` +
        `${JSON.stringify(expectedType)} (${foundIn === 'snapshot' ? 'its latest snapshot' : `its event at version ${foundIn.event}`}): ` +
        `give each aggregate type its own stream ids (e.g. a type prefix); for a renamed type, ` +
        `list the old name in formerAggregateTypes`,
    );
    this.name = 'AggregateTypeMismatchError';
  }
}
