import { type Envelope } from '@causeway/cqrs-core';
import {
  TRAINER_JOINED_GROUP_EVENT,
  TRAINER_LEFT_GROUP_EVENT,
  TRAINER_MOVED_EVENT,
  type TrainerJoinedGroupEvent,
  type TrainerMovedEvent,
} from '@causeway/contracts';
import { type GroupMembers, positionRow, type TrainerPositions } from '@causeway/platform';

export const PROJECTED_EVENTS = [
  TRAINER_MOVED_EVENT,
  TRAINER_JOINED_GROUP_EVENT,
  TRAINER_LEFT_GROUP_EVENT,
] as const;

/** How many read-model rows the projector remembers the applied version of. */
const VERSIONS_REMEMBERED = 100_000;

/**
 * Applies the trainer's events to the read models (TrainerPositions, GroupMembers). Idempotent
 * and order-safe: every write is guarded by the event's stream version, so replays, redeliveries
 * and a catch-up racing the live handler change nothing twice and never go back in time.
 *
 * It remembers, per row (trainer; trainer and group), the highest version it knows the read model
 * holds (it applied it, or the read model refused it as not newer). Read models only move
 * forward, so an event at or below that version is answered `false` without a read: the
 * periodic catch-up re-reads every event the live path applied, and on FerretDB each of those
 * reads scans the collection.
 */
export class ReadModelsProjector {
  private readonly known = new Map<string, number>();

  constructor(
    private readonly positions: TrainerPositions,
    private readonly groups: GroupMembers,
  ) {}

  /** Returns whether a read model changed (false: the event was applied before, or is not projected). */
  async apply(event: Envelope): Promise<boolean> {
    const row = rowOf(event);
    if (row === undefined) return false;
    // Version 0: not a stored event; nothing to compare.
    const version = event.version > 0 ? event.version : undefined;
    if (version !== undefined && (this.known.get(row) ?? 0) >= version) return false;
    const changed = await this.write(event);
    if (version !== undefined) this.remember(row, version);
    return changed;
  }

  /** Forgets what was applied: the read models were lost and are rebuilt from the events. */
  forget(): void {
    this.known.clear();
  }

  private remember(row: string, version: number): void {
    if ((this.known.get(row) ?? 0) >= version) return;
    this.known.delete(row);
    this.known.set(row, version);
    if (this.known.size > VERSIONS_REMEMBERED) {
      const oldest = this.known.keys().next();
      if (!oldest.done) this.known.delete(oldest.value);
    }
  }

  private async write(event: Envelope): Promise<boolean> {
    switch (event.type) {
      case TRAINER_MOVED_EVENT:
        return this.positions.apply(positionRow(event.data as TrainerMovedEvent, event.version));
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

/** The read-model row an event writes: `p|<trainer>` or `g|<trainer>|<group>`; undefined if none. */
function rowOf(event: Envelope): string | undefined {
  switch (event.type) {
    case TRAINER_MOVED_EVENT:
      return `p|${(event.data as TrainerMovedEvent).trainerId}`;
    case TRAINER_JOINED_GROUP_EVENT:
    case TRAINER_LEFT_GROUP_EVENT: {
      const { trainerId, groupId } = event.data as TrainerJoinedGroupEvent;
      return `g|${trainerId}|${groupId}`;
    }
    default:
      return undefined;
  }
}
