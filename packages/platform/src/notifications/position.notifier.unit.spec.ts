import { type TrainerMovedEvent } from '@causeway/contracts';
import { InMemoryGroupMembers } from '../read-models/in-memory.group-members';
import { InMemoryNotificationLog } from './in-memory.notification-log';
import { PositionNotifier } from './position.notifier';

describe('PositionNotifier: who gets a position.update', () => {
  const moved = (groups?: string[]): TrainerMovedEvent => ({
    trainerId: 'ash',
    position: { x: 1, y: 2 },
    movement: { isMoving: false, direction: { x: 0, y: 0 }, speed: 0, startedAt: 0 },
    timestamp: 1_800_000_000_000,
    ...(groups && { groups }),
  });

  async function setup() {
    const groups = new InMemoryGroupMembers();
    const log = new InMemoryNotificationLog();
    const notifier = new PositionNotifier(groups, log, 'projection-worker-1');
    const change = (
      trainerId: string,
      groupId: string,
      action: 'join' | 'leave',
      version: number,
    ) => groups.apply({ trainerId, groupId, action, version });
    return { notifier, log, change };
  }

  it('sends a move made in a private group to that group only, though the trainer left it since', async () => {
    // What a backlog after a crash meets: the membership read model is ahead of the move.
    const { notifier, log, change } = await setup();
    await change('ash', 'party', 'join', 2);
    await change('misty', 'party', 'join', 1);
    await change('ash', 'party', 'leave', 9);
    await notifier.notify({ messageId: 'm-3', version: 3, data: moved(['party']) });
    const [entry] = await log.read(undefined, 10);
    expect(entry!.notification).toMatchObject({
      targetType: 'group',
      targetIds: ['party'],
      // The trainer's user sees its own move, also out of the group by now.
      recipients: ['ash', 'misty'],
    });
  });

  it('broadcasts a move made in no group, though the trainer joined a group since', async () => {
    const { notifier, log, change } = await setup();
    await change('ash', 'party', 'join', 9);
    await notifier.notify({ messageId: 'm-3', version: 3, data: moved([]) });
    const [entry] = await log.read(undefined, 10);
    expect(entry!.notification).toMatchObject({ targetType: 'broadcast', targetIds: [] });
  });

  it('reads the groups of a move stored without them from the read model', async () => {
    const { notifier, log, change } = await setup();
    await change('ash', 'party', 'join', 2);
    await notifier.notify({ messageId: 'm-3', version: 3, data: moved() });
    const [entry] = await log.read(undefined, 10);
    expect(entry!.notification).toMatchObject({
      targetType: 'group',
      targetIds: ['party'],
      recipients: ['ash'],
    });
  });
});
