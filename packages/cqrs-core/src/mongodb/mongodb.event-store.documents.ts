import { type SerializedEnvelope } from '../messages/serializer.port';

/**
 * Positions of the MongoDB store: every commit (one append) takes one slot of the global log,
 * and its events get `slot * POSITIONS_PER_SLOT + index`. Positions are strictly increasing but
 * not consecutive; an append holds at most POSITIONS_PER_SLOT events.
 */
export const POSITIONS_PER_SLOT = 1000;

export function positionOf(slot: number, index: number): number {
  return slot * POSITIONS_PER_SLOT + index;
}

export function slotOf(position: number): number {
  return Math.floor(position / POSITIONS_PER_SLOT);
}

/**
 * One event inside a commit. Data and metadata are stored as JSON text: the checksum covers the
 * exact text, and FerretDB refuses keys with '.' or a leading '$', which user data may have.
 */
export interface EventDocument {
  version: number;
  /** Index of the event in its append; position = slot * POSITIONS_PER_SLOT + index, stable after truncation. */
  index: number;
  messageId: string;
  type: string;
  aggregateId: string;
  aggregateType: string;
  data: string;
  metadata: string;
  /** metadata.timestamp in ms (null when unparsable), for retention by age. */
  at: number | null;
}

/**
 * One append = one document, so that its events are written all or nothing without
 * transactions. `_id` is the commit's slot in the global log (unique); (streamId, firstVersion)
 * is unique too, which decides optimistic concurrency. Commits are never deleted: truncation
 * empties `events` and keeps the document, so neither a slot nor a version can be taken twice.
 */
export interface CommitDocument {
  _id: number;
  streamId: string;
  firstVersion: number;
  lastVersion: number;
  /** A hard delete: the stream can never be appended to again. */
  tombstone?: boolean;
  events: EventDocument[];
  types: string[];
  messageIds: string[];
}

/** Stream state that only deletions change. */
export interface StreamDocument {
  _id: string;
  /** First readable version (after truncation, soft deletion or retention). */
  firstVersion?: number;
  softDeletedAt?: number;
}

/**
 * A removal under way, one document per removal: a hard delete's is written before the
 * tombstone, a soft delete's or truncate's before the stream's new first version, each removed
 * by its own removal once the strip is done, so a removal whose process died in between is found
 * (finishDeletes) without reading the commits. A collection of its own: FerretDB rewrites a whole
 * document on update, so a mark on the stream's document could undo a racing removal's new first
 * version. Marks written before session 43 were one per stream (`_id` = streamId, no `streamId`),
 * shared by the removals racing on it: finishDeletes still reads them.
 */
export interface DeleteMarkDocument {
  /** The removal's own id (a UUID); the stream's id in a mark written before session 43. */
  _id: string;
  /** The stream removed (absent from a mark written before session 43). */
  streamId?: string;
  /** When the removal began (Date.now()). */
  at: number;
}

export function toEventDocument(
  envelope: SerializedEnvelope,
  version: number,
  index: number,
): EventDocument {
  const at = Date.parse(envelope.metadata.timestamp);
  return {
    version,
    index,
    messageId: envelope.messageId,
    type: envelope.type,
    aggregateId: envelope.aggregateId,
    aggregateType: envelope.aggregateType,
    data: envelope.data,
    metadata: JSON.stringify(envelope.metadata),
    at: Number.isNaN(at) ? null : at,
  };
}

export function toSerializedEnvelope(event: EventDocument): SerializedEnvelope {
  return {
    messageId: event.messageId,
    type: event.type,
    aggregateId: event.aggregateId,
    aggregateType: event.aggregateType,
    version: event.version,
    data: event.data,
    metadata: JSON.parse(event.metadata) as SerializedEnvelope['metadata'],
  };
}
