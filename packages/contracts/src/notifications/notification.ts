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
});
export type PositionUpdateParams = z.infer<typeof PositionUpdateParams>;

/** S0-6: a notification on its way to SSE gateways; `serverId` is the instance that produced it. */
export const Notification = z.object({
  targetType: NotificationTarget,
  targetIds: z.array(z.string()),
  method: z.string().min(1),
  params: z.record(z.string(), z.unknown()),
  serverId: z.string(),
});
export type Notification = z.infer<typeof Notification>;

/** The JSON-RPC 2.0 notification a browser receives in an SSE `data:` line. */
export function toJsonRpcNotification(notification: Pick<Notification, 'method' | 'params'>): {
  jsonrpc: '2.0';
  method: string;
  params: Record<string, unknown>;
} {
  return { jsonrpc: '2.0', method: notification.method, params: notification.params };
}
