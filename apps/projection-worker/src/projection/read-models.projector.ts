import { type Envelope } from '@causeway/cqrs-core';
import {
  TRAINER_JOINED_GROUP_EVENT,
  TRAINER_LEFT_GROUP_EVENT,
  TRAINER_MOVED_EVENT,
  type TrainerJoinedGroupEvent,
  type TrainerMovedEvent,
} from '@causeway/contracts';
import { type GroupMembers, type TrainerPositions } from '@causeway/platform';

export const PROJECTED_EVENTS = [
  TRAINER_MOVED_EVENT,
  TRAINER_JOINED_GROUP_EVENT,
  TRAINER_LEFT_GROUP_EVENT,
] as const;

/**
 * Applies the trainer's events to the read models (TrainerPositions, GroupMembers). Idempotent
 * and order-safe: every write is guarded by the event's stream version, so replays, redeliveries
 * and a catch-up racing the live handler change nothing twice and never go back in time.
 */
export class ReadModelsProjector {
  constructor(
    private readonly positions: TrainerPositions,
    private readonly groups: GroupMembers,
  ) {}

  /** Returns whether a read model changed (false: the event was applied before, or is not projected). */
  async apply(event: Envelope): Promise<boolean> {
    switch (event.type) {
      case TRAINER_MOVED_EVENT: {
        const { trainerId, position, movement, timestamp } = event.data as TrainerMovedEvent;
        return this.positions.apply({
          trainerId,
          x: position.x,
          y: position.y,
          isMoving: movement.isMoving,
          dirX: movement.direction.x,
          dirY: movement.direction.y,
          speed: movement.speed,
          startedAt: movement.startedAt,
          version: event.version,
          updatedAt: timestamp,
        });
      }
      case TRAINER_JOINED_GROUP_EVENT:
      case TRAINER_LEFT_GROUP_EVENT: {
        const { trainerId, groupId } = event.data as TrainerJoinedGroupEvent;
        return this.groups.apply({
          trainerId,
          groupId,
          action: event.type === TRAINER_JOINED_GROUP_EVENT ? 'join' : 'leave',
          version: event.version,
        });
      }
      default:
        return false;
    }
  }
}
