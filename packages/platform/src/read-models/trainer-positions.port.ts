import { type TrainerMovedEvent } from '@causeway/contracts';

/** A trainer as the positions read model sees it after its latest event. */
export interface TrainerPosition {
  trainerId: string;
  x: number;
  y: number;
  isMoving: boolean;
  dirX: number;
  dirY: number;
  speed: number;
  /** Epoch ms when the current movement started; 0 when still. */
  startedAt: number;
  /** Version of the trainer's stream this row reflects. */
  version: number;
  updatedAt: number;
  /**
   * The groups the trainer was in at this move (the event's `groups`), sorted. Absent on rows of
   * events that did not carry them. Visibility reads it with GroupMembers (ADR 007): a trainer
   * whose row names a group is never public, even while the membership read model is lost. Not
   * for clients: the gateway leaves it out of what it sends (it names groups a viewer is not in).
   */
  groups?: string[];
}

/**
 * Read model: every trainer's latest position (projected from TrainerMovedEvent).
 *
 * Contract (proved by `describeTrainerPositions` against every implementation):
 * - `apply` stores the row only when its version is greater than the stored one; it returns
 *   whether it did (replays and redeliveries of older events change nothing). A malformed row
 *   (`checkPositionRow` in read-models.rules.ts) is refused with a TypeError naming the field
 *   and the trainer, and changes nothing.
 * - `get` returns the row or undefined (with its `groups` when it was applied with them);
 *   `list(ids?)` returns the rows of the given trainers (every trainer when omitted), sorted by
 *   trainerId.
 * - `recent(since)` returns the rows whose `updatedAt` is `since` or later (epoch ms), sorted
 *   by trainerId: its cost follows the trainers that moved since, not every trainer that ever
 *   did (what clients are shown; `list()` reads them all).
 */
export interface TrainerPositions {
  apply(position: TrainerPosition): Promise<boolean>;
  get(trainerId: string): Promise<TrainerPosition | undefined>;
  list(trainerIds?: readonly string[]): Promise<TrainerPosition[]>;
  recent(since: number): Promise<TrainerPosition[]>;
}

/** The row a TrainerMovedEvent at stream `version` makes (projection-worker; trainer-service's write-through). */
export function positionRow(event: TrainerMovedEvent, version: number): TrainerPosition {
  const { timestamp, groups } = event;
  return {
    ...movedTo(event),
    version,
    updatedAt: timestamp,
    ...(groups && { groups: [...groups] }),
  };
}

/**
 * Where a TrainerMovedEvent puts its trainer and how it moves from there, flat: a row's first
 * fields, and a `position.update`'s params (PositionNotifier), which clients apply as rows.
 */
export function movedTo(
  event: TrainerMovedEvent,
): Omit<TrainerPosition, 'version' | 'updatedAt' | 'groups'> {
  const { trainerId, position, movement } = event;
  return {
    trainerId,
    x: position.x,
    y: position.y,
    isMoving: movement.isMoving,
    dirX: movement.direction.x,
    dirY: movement.direction.y,
    speed: movement.speed,
    startedAt: movement.startedAt,
  };
}

/**
 * Exactly a row's fields, `groups` copied: what a store keeps of a caller's object (nothing else
 * it carries) and what it hands out (nothing the caller can change in the store).
 */
export function positionFields(row: TrainerPosition): TrainerPosition {
  const { trainerId, x, y, isMoving, dirX, dirY, speed, startedAt, version, updatedAt, groups } =
    row;
  return {
    trainerId,
    x,
    y,
    isMoving,
    dirX,
    dirY,
    speed,
    startedAt,
    version,
    updatedAt,
    ...(groups && { groups: [...groups] }),
  };
}
