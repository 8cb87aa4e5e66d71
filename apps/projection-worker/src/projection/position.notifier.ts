import { type Envelope } from '@causeway/cqrs-core';
import { type Notification, type TrainerMovedEvent } from '@causeway/contracts';
import { type GroupMembers, type NotificationLog } from '@causeway/platform';

/**
 * Turns a TrainerMovedEvent into a `position.update` notification (S0-6, ADR 007) and appends it
 * to the NotificationLog: a broadcast when the trainer is in no group, otherwise addressed to its
 * groups with their members (read from GroupMembers now) as `recipients`. The notificationId comes
 * from the event's messageId, so a redelivered event is appended once.
 */
export class PositionNotifier {
  constructor(
    private readonly groups: GroupMembers,
    private readonly notifications: NotificationLog,
    private readonly serverId: string,
  ) {}

  async notification(event: Envelope<TrainerMovedEvent>): Promise<Notification> {
    const { trainerId, position, movement } = event.data;
    const base = {
      notificationId: `position:${event.messageId}`,
      method: 'position.update',
      params: {
        trainerId,
        x: position.x,
        y: position.y,
        isMoving: movement.isMoving,
        dirX: movement.direction.x,
        dirY: movement.direction.y,
      },
      serverId: this.serverId,
    };
    const groups = await this.groups.groupsOf(trainerId);
    if (groups.length === 0) return { ...base, targetType: 'broadcast', targetIds: [] };
    const members = await Promise.all(groups.map((groupId) => this.groups.membersOf(groupId)));
    const recipients = [...new Set(members.flat())].sort();
    return { ...base, targetType: 'group', targetIds: groups, recipients };
  }

  async notify(event: Envelope<TrainerMovedEvent>): Promise<string> {
    return this.notifications.append(await this.notification(event));
  }
}
