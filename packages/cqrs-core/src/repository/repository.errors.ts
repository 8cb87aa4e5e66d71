/**
 * The stream does not continue where the snapshot ends: events after the snapshot are gone
 * (truncated, removed by retention, or the stream was deleted and created again while its
 * snapshots stayed). Folding what is left would build a wrong state silently.
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
