import { type TrainerMovedEvent } from '@causeway/contracts';
import { InMemoryGroupMembers } from './in-memory.group-members';
import { InMemoryNotificationLog } from '../notifications/in-memory.notification-log';
import { PositionNotifier } from '../notifications/position.notifier';
import { positionRow } from './trainer-positions.port';

/**
 * A move's position and direction, each on its own axis, in the row it makes and in the
 * `position.update` clients apply as a row: a trainer heading east (direction x 1, y 0) from
 * (3, 7) is drawn there and keeps heading east, not north from (7, 3).
 */
describe('where a move puts its trainer and where it heads, axis by axis', () => {
  const move: TrainerMovedEvent = {
    trainerId: 'ash',
    position: { x: 3, y: 7 },
    movement: {
      isMoving: true,
      direction: { x: 1, y: 0 },
      speed: 2.5,
      startedAt: 1_799_999_999_000,
    },
    timestamp: 1_800_000_000_000,
  };
  const where = { x: 3, y: 7, dirX: 1, dirY: 0, isMoving: true, speed: 2.5 };

  it('the row: x and y from the position, dirX and dirY from the direction', () => {
    expect(positionRow(move, 4)).toEqual({
      trainerId: 'ash',
      ...where,
      startedAt: 1_799_999_999_000,
      version: 4,
      updatedAt: 1_800_000_000_000,
    });
  });

  it('the position.update: the same fields as the row', async () => {
    const log = new InMemoryNotificationLog();
    const notifier = new PositionNotifier(new InMemoryGroupMembers(), log, 'projection-worker-1');
    await notifier.notify({ messageId: 'm-4', version: 4, data: { ...move, groups: [] } });
    const [entry] = await log.read(undefined, 10);
    expect(entry!.notification).toMatchObject({
      method: 'position.update',
      params: { trainerId: 'ash', ...where, startedAt: 1_799_999_999_000, version: 4 },
    });
  });
});
