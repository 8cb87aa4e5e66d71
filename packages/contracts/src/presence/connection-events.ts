import { z } from 'zod';

/** S0-8: an SSE connection opened on a gateway instance. */
export const ConnectionEstablishedEvent = z.object({
  userId: z.string(),
  connectionId: z.string(),
  serverId: z.string(),
  timestamp: z.number().int().nonnegative(),
});
export type ConnectionEstablishedEvent = z.infer<typeof ConnectionEstablishedEvent>;
export const CONNECTION_ESTABLISHED_EVENT = 'ConnectionEstablishedEvent';

/** S0-8: an SSE connection closed (by the client, a limit, a timeout or a shutdown). */
export const ConnectionClosedEvent = ConnectionEstablishedEvent.extend({
  reason: z.string(),
});
export type ConnectionClosedEvent = z.infer<typeof ConnectionClosedEvent>;
export const CONNECTION_CLOSED_EVENT = 'ConnectionClosedEvent';
