import { PositionUpdateParams } from '@causeway/contracts';
import { type TrainerPosition } from '../read-models/trainer-positions.port';
import { type NotificationLog } from './notification-log.port';
import { orderKeyOf } from './position.notifier';

/**
 * The rows of the positions read model, each brought up to the newest `position.update` the log
 * holds for its trainer when that one is newer (a higher stream version). The read model lags
 * the log: trainer-service notifies a move right after its append and projection-worker applies
 * it later (milliseconds, or as long as it is down). A reader that answers the state as of the
 * log's end (the gateway's `recovery`, `GET /api/positions`) must not answer an older one: a
 * client would show it until the trainer moves again, and never if it stopped there.
 */
export async function withLoggedMoves(
  rows: TrainerPosition[],
  log: NotificationLog,
): Promise<TrainerPosition[]> {
  if (rows.length === 0) return rows;
  const newest = await log.newest(rows.map((row) => orderKeyOf(row.trainerId)));
  if (newest.size === 0) return rows;
  return rows.map((row) => {
    const logged = newest.get(orderKeyOf(row.trainerId));
    if (!logged || logged.version <= row.version) return row;
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
  });
}
