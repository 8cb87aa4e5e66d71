import { type Notification, type TrainerMovedEvent } from '@causeway/contracts';
import { type GroupMembers } from '../read-models/group-members.port';
import { movedTo } from '../read-models/trainer-positions.port';
import { type NotificationLog } from './notification-log.port';

/** Who gets a trainer's `position.update`: everyone (no groups), or its groups' members. */
export interface Audience {
  groups: readonly string[];
  recipients: readonly string[];
}

/**
 * Turns a TrainerMovedEvent into a `position.update` notification (S0-6, ADR 007) and appends it
 * to the NotificationLog: a broadcast when the trainer was in no group when it moved, otherwise
 * addressed to those groups with their members (read from GroupMembers now) and the trainer's
 * own user as `recipients`. The notificationId comes
 * from the event's messageId, so every producer of one event's notification appends it once.
 *
 * Two producers use it (ADR 007, "Eager notifications"): projection-worker notifies every live
 * event (`notify`, the guarantee), and trainer-service notifies right after its append
 * (`notifyEarly`, the fast path), ahead of the event's trip over the bus. Both build the same
 * notification; whichever appends first wins and the other is deduplicated by the log.
 *
 * Both append under the trainer's order key with the event's stream version, so the log never
 * takes an older move of a trainer after a newer one (clients would see it jump back); the fast
 * path also passes the version before its event and is refused while the trainer has moves
 * still to be notified by projection-worker (e.g. its backlog after an outage), which then
 * notifies them and that move in order (ADR 007, session 9).
 */
export class PositionNotifier {
  constructor(
    private readonly groups: GroupMembers,
    private readonly notifications: NotificationLog,
    private readonly serverId: string,
  ) {}

  /**
   * The notification of a stored event: for the groups the trainer was in when it moved (the
   * event's `groups`; read from GroupMembers now for an event stored without them), with their
   * members now as recipients.
   */
  async notification(event: {
    messageId: string;
    data: TrainerMovedEvent;
    version?: number;
  }): Promise<Notification> {
    const groups = event.data.groups ?? (await this.groups.groupsOf(event.data.trainerId));
    return this.build(
      event.messageId,
      event.data,
      { groups, recipients: await this.membersOf(groups) },
      event.version,
    );
  }

  /**
   * Appends the notification of a stored event, unless it is in the log already (the eager path
   * was first: then the audience reads are skipped too). Returns its id in the log, or undefined
   * when a newer move of the trainer is there already (this one would send clients back in time).
   * An event without a stream version (0) is appended without the order check.
   */
  async notify(event: {
    messageId: string;
    version: number;
    data: TrainerMovedEvent;
  }): Promise<string | undefined> {
    const first = await this.notifications.idOf(notificationIdOf(event.messageId));
    if (first !== undefined) return first;
    const notification = await this.notification(event);
    if (!(event.version > 0)) return this.notifications.append(notification);
    return this.notifications.append(notification, {
      key: orderKeyOf(event.data.trainerId),
      version: event.version,
    });
  }

  /**
   * The fast path of the write model, step 1: the audience of a trainer's next move, given its
   * groups after the move (`groups`, known from the write model's own stream). Reads the
   * GroupMembers read model for the members and for the trainer's groups (all issued at once)
   * and answers undefined unless the read model has caught up with that membership (the same
   * groups), so that the audience is the one the projection would use. Independent of the
   * append: the write model starts it before appending and awaits it after.
   */
  async audienceOf(trainerId: string, groups: readonly string[]): Promise<Audience | undefined> {
    const [projected, recipients] = await Promise.all([
      this.groups.groupsOf(trainerId),
      this.membersOf(groups),
    ]);
    return sameSet(projected, groups) ? { groups, recipients } : undefined;
  }

  /**
   * Step 2, once the event is appended: appends its notification for `audience` (from
   * `audienceOf`). Returns the entry's id. With `order` (the event's stream `version` and the
   * stream's version before it, `previous`), only when every older move of the trainer is in the
   * log: otherwise it returns undefined and projection-worker notifies the event, in order.
   * Without `order` nothing keeps it from overtaking older moves still to be notified.
   */
  notifyEarly(
    eventId: string,
    data: TrainerMovedEvent,
    audience: Audience,
    order?: { version: number; previous: number },
  ): Promise<string | undefined> {
    const notification = this.build(eventId, data, audience, order?.version);
    if (!order) return this.notifications.append(notification);
    return this.notifications.append(notification, {
      key: orderKeyOf(data.trainerId),
      version: order.version,
      previous: order.previous,
    });
  }

  private async membersOf(groups: readonly string[]): Promise<string[]> {
    if (groups.length === 0) return [];
    const members = await Promise.all(groups.map((groupId) => this.groups.membersOf(groupId)));
    return [...new Set(members.flat())].sort();
  }

  private build(
    eventId: string,
    data: TrainerMovedEvent,
    audience: Audience,
    version?: number,
  ): Notification {
    const { trainerId } = data;
    const base = {
      notificationId: notificationIdOf(eventId),
      method: 'position.update',
      params: {
        ...movedTo(data),
        ...(version !== undefined && version > 0 && { version }),
      },
      serverId: this.serverId,
    };
    if (audience.groups.length === 0) return { ...base, targetType: 'broadcast', targetIds: [] };
    return {
      ...base,
      targetType: 'group',
      targetIds: [...audience.groups].sort(),
      // The trainer's user sees its own moves, also after leaving the group before the notice.
      recipients: [...new Set([...audience.recipients, trainerId])].sort(),
    };
  }
}

/** The notificationId of an event's `position.update`: one per event, whoever appends it. */
function notificationIdOf(eventId: string): string {
  return `position:${eventId}`;
}

/** The order key of a trainer's `position.update`s: their versions are its stream's. */
export function orderKeyOf(trainerId: string): string {
  return `position:${trainerId}`;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((item) => set.has(item));
}
