import { checkStreamId } from '../event-store/event-store.rules';
import { type LoadSnapshotOptions, type Snapshot } from './snapshot-store.port';

const ISO_8601 = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * Refuses a snapshot no store can keep as given, before anything is encoded or written: every
 * SnapshotStore's `save` starts with it, so all of them refuse the same inputs the same way.
 * @throws TypeError naming the field: `streamId` must be a stream id an event store takes
 *   (checkSnapshotStreamId), `version` a
 *   positive integer (a stream version: 1 or more), `schemaVersion` an integer, `createdAt` an
 *   ISO-8601 time
 */
export function checkSnapshot(snapshot: Snapshot): void {
  checkSnapshotStreamId(snapshot?.streamId, 'snapshot.streamId');
  if (!Number.isSafeInteger(snapshot.version) || snapshot.version < 1)
    throw new TypeError(
      `snapshot.version must be a positive integer, got ${shown(snapshot.version)}`,
    );
  checkSchemaVersion('snapshot.schemaVersion', snapshot.schemaVersion);
  const { createdAt } = snapshot;
  if (
    typeof createdAt !== 'string' ||
    !ISO_8601.test(createdAt) ||
    Number.isNaN(Date.parse(createdAt))
  )
    throw new TypeError(
      `snapshot.createdAt must be an ISO-8601 time string, got ${shown(createdAt)}`,
    );
}

/**
 * Refuses a stream id `save`, `loadLatest`, `list` or `delete` cannot take as given, before
 * anything is read or written: every SnapshotStore starts them with it. A non-string reached the
 * MongoDB query as an operator (`{ $ne: null }` matched — and `delete` removed — every stream's
 * snapshots). Beyond a non-empty string, the rule is the event stores' (checkStreamId): not
 * blank, at most MAX_STREAM_ID_LENGTH characters, no NUL, well-formed Unicode — so a snapshot is
 * only ever kept for a stream an event store could hold, and two ids differing only in a lone
 * surrogate (one id in Redis and MongoDB, which keep UTF-8) never share a snapshot.
 * @throws TypeError naming `streamId` (or `name`) and the value given
 */
export function checkSnapshotStreamId(
  streamId: unknown,
  name = 'streamId',
): asserts streamId is string {
  if (typeof streamId !== 'string' || streamId === '')
    throw new TypeError(`${name} must be a non-empty string, got ${shown(streamId)}`);
  try {
    checkStreamId(streamId);
  } catch (error) {
    // Its messages start with `streamId`.
    throw new TypeError((error as Error).message.replace(/^streamId/, name));
  }
}

/**
 * Refuses loadLatest options no store can answer alike, before anything is read: every
 * SnapshotStore's `loadLatest` starts with it. `schemaVersion` must be what `save` takes (a
 * safe integer): NaN was a mongoose CastError on MongoDB and "no snapshot" elsewhere, and the
 * string '1' found the snapshot on Redis and MongoDB but not in memory.
 * @throws TypeError naming `schemaVersion` (or the options) and the value given
 */
export function checkLoadSnapshotOptions(
  options: LoadSnapshotOptions | undefined,
): asserts options is LoadSnapshotOptions {
  if (typeof options !== 'object' || options === null)
    throw new TypeError(
      `loadLatest options must be an object with a schemaVersion, got ${shown(options)}`,
    );
  checkSchemaVersion('schemaVersion', options.schemaVersion);
}

/** A state schema version is a safe integer (what `save` keeps and `loadLatest` matches). */
function checkSchemaVersion(name: string, value: unknown): void {
  if (!Number.isSafeInteger(value))
    throw new TypeError(`${name} must be an integer, got ${shown(value)}`);
}

function shown(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (value instanceof Date)
    return `a Date (${Number.isNaN(value.getTime()) ? 'invalid' : value.toISOString()})`;
  return typeof value === 'object' && value !== null ? 'an object' : String(value);
}
