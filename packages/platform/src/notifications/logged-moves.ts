import { isAddressedTo, PositionUpdateParams } from '@causeway/contracts';
import { type TrainerPosition } from '../read-models/trainer-positions.port';
import { type NewestNotification, type NotificationLog } from './notification-log.port';
import { orderKeyOf } from './position.notifier';

/**
 * The rows of the positions read model, each brought up to the newest `position.update` the log
 * holds for its trainer when that one is newer (a higher stream version). The read model lags
 * the log: trainer-service notifies a move right after its append and projection-worker applies
 * it later (milliseconds, or as long as it is down). A reader that answers the state as of the
 * log's end (the gateway's `recovery`, `GET /api/positions`) must not answer an older one: a
 * client would show it until the trainer moves again, and never if it stopped there.
 *
 * With `viewer`, a row whose newer logged move was not addressed to the viewer is left out: the
 * trainer's newest state is not theirs to see, whatever the lagging read model says. (While
 * projection-worker rebuilds lost read models, a trainer's row may be its public first move,
 * replayed before the join that made it private; its private moves are in the log.)
 */
export async function withLoggedMoves(
  rows: TrainerPosition[],
  log: NotificationLog,
  viewer?: { userId: string; trainerIds: readonly string[] },
): Promise<TrainerPosition[]> {
  if (rows.length === 0) return rows;
  const newest = await log.newest(rows.map((row) => orderKeyOf(row.trainerId)));
  if (newest.size === 0) return rows;
  const shown: TrainerPosition[] = [];
  for (const row of rows) {
    const logged = newest.get(orderKeyOf(row.trainerId));
    if (!logged || logged.version <= row.version) {
      shown.push(row);
      continue;
    }
    if (viewer && !isAddressedTo(logged.notification, viewer.userId, viewer.trainerIds)) continue;
    shown.push(overlaid(row, logged));
  }
  return shown;
}

/** `row` brought to the logged move, when that one is a well-formed move of its trainer. */
function overlaid(row: TrainerPosition, logged: NewestNotification): TrainerPosition {
  const params = PositionUpdateParams.safeParse(logged.notification.params);
  if (!params.success || params.data.trainerId !== row.trainerId) return row;
  const { x, y, isMoving, dirX, dirY, speed, startedAt } = params.data;
  return {
    ...row,
    x,
    y,
    isMoving,
    dirX,
    dirY,
    // A move logged before the frames carried them: its speed as the row's, begun when logged.
    speed: speed ?? row.speed,
    startedAt: startedAt ?? (isMoving ? logged.at : 0),
    version: logged.version,
    updatedAt: logged.at,
  };
}
