/** A stored snapshot cannot be decoded (corrupt payload, unknown encoding, serializer failure). */
export class SnapshotDecodeError extends Error {
  constructor(
    readonly streamId: string,
    readonly version: number,
    readonly encoding: string,
    readonly reason: string,
  ) {
    super(
      `Snapshot of ${streamId} at version ${version} (${encoding}) cannot be decoded: ${reason}`,
    );
    this.name = 'SnapshotDecodeError';
  }
}
