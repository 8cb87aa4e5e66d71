import { type Envelope } from '@causeway/cqrs-core';
import { type TrainerMovedEvent } from '@causeway/contracts';

/** How many trainers the runner remembers the last notified move of. */
const TRAINERS_REMEMBERED = 100_000;

/**
 * The moves this process knows to be notified: per trainer, the highest stream version whose
 * notification it appended or found in the log. The log never takes an older move of a trainer
 * after a newer one, so every move at or below it is notified or superseded for good.
 *
 * "Applied to the read models" is not "notified": trainer-service writes a trainer's first move
 * through to the positions itself, and a live delivery may apply a move and fail to notify it
 * before the bus dead-letters it. A periodic catch-up run that notified only what it applied
 * would never notify those (a review, session 40); it notifies every move not known here, each
 * costing one look-up in the log (which drops a repeated id). A trainer forgotten (beyond
 * TRAINERS_REMEMBERED) costs that look-up again, never a notification.
 */
export class NotifiedMoves {
  private readonly versions = new Map<string, number>();

  /** Whether the move (or a newer one of its trainer) is known to be notified. */
  has(event: Envelope): boolean {
    if (!(event.version > 0)) return false;
    return (this.versions.get(trainerOf(event)) ?? 0) >= event.version;
  }

  /** The move is notified (or the log refused it as older than one it has). */
  add(event: Envelope): void {
    if (!(event.version > 0)) return;
    const trainerId = trainerOf(event);
    if ((this.versions.get(trainerId) ?? 0) >= event.version) return;
    this.versions.delete(trainerId);
    this.versions.set(trainerId, event.version);
    if (this.versions.size > TRAINERS_REMEMBERED) {
      const oldest = this.versions.keys().next();
      if (!oldest.done) this.versions.delete(oldest.value);
    }
  }

  /** Forgets every move: the log was lost with the read models. */
  clear(): void {
    this.versions.clear();
  }
}

function trainerOf(event: Envelope): string {
  return (event.data as TrainerMovedEvent).trainerId;
}
