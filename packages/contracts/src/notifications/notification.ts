import { z } from 'zod';

/** S0-6: who a notification is for. */
export const NotificationTarget = z.enum(['user', 'group', 'broadcast']);
export type NotificationTarget = z.infer<typeof NotificationTarget>;

export const PositionUpdateParams = z.object({
  trainerId: z.string(),
  x: z.number(),
  y: z.number(),
  isMoving: z.boolean(),
  dirX: z.number(),
  dirY: z.number(),
  /** Units per second while moving; 0 when still. Absent from moves logged before session 21. */
  speed: z.number().optional(),
  /** Epoch ms when the movement started; 0 when still. Absent likewise. */
  startedAt: z.number().optional(),
  /** The trainer's stream version of the move. Absent likewise. */
  version: z.number().int().optional(),
});
export type PositionUpdateParams = z.infer<typeof PositionUpdateParams>;

/**
 * S0-6: a notification on its way to SSE gateways; `serverId` is the instance that produced it.
 * - user: every connection of each user in `targetIds`;
 * - group: every connection of each member of the groups in `targetIds`; the producer resolves
 *   the members from the membership read model when it produces the notification and lists them
 *   in `recipients`, so gateways need no membership state;
 * - broadcast: every connection.
 */
export const Notification = z.object({
  /** Stable id of this notification (derived from the event it comes from): appending it twice stores it once. */
  notificationId: z.string().min(1),
  targetType: NotificationTarget,
  targetIds: z.array(z.string()),
  /**
   * group only: the member trainer ids at the time the notification was produced (a user's own
   * trainer has the user's id; see isAddressedTo).
   */
  recipients: z.array(z.string()).optional(),
  method: z.string().min(1),
  params: z.record(z.string(), z.unknown()),
  serverId: z.string(),
});

/**
 * Whether a user may see a notification: theirs, one of their groups', or a broadcast. Group
 * members are trainers: a user is one through their own trainer (id = user id) and through the
 * trainers their token lets them move (`trainerIds`).
 */
export function isAddressedTo(
  notification: Notification,
  userId: string,
  trainerIds: readonly string[] = [],
): boolean {
  switch (notification.targetType) {
    case 'broadcast':
      return true;
    case 'user':
      return notification.targetIds.includes(userId);
    case 'group': {
      const recipients = notification.recipients ?? [];
      return recipients.includes(userId) || trainerIds.some((id) => recipients.includes(id));
    }
  }
}
export type Notification = z.infer<typeof Notification>;

/** The JSON-RPC 2.0 notification a browser receives in an SSE `data:` line. */
export function toJsonRpcNotification(notification: Pick<Notification, 'method' | 'params'>): {
  jsonrpc: '2.0';
  method: string;
  params: Record<string, unknown>;
} {
  return { jsonrpc: '2.0', method: notification.method, params: notification.params };
}
