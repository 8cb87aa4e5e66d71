/** An operator's order to end every stream of a user, on whichever instance it is open. */
export interface DisconnectOrder {
  userId: string;
  /** Shown to the user's clients in the `disconnected` frame. */
  reason: string;
}

/**
 * Orders to every gateway instance at once (the shared control channel; Centrifugo's server API
 * `disconnect`). Contract:
 * - `disconnect` reaches every instance that is listening when it is published, this one
 *   included, and resolves with how many received it (0 when none listens).
 * - Orders are not stored: an instance that is not listening at the time (starting, restarting,
 *   cut off from Redis) never gets it. A disconnect is for streams open now; it revokes nothing
 *   (the client may open a new stream with a credential that is still valid).
 * - `listen` resolves once orders published after it reach `handler`, in publication order, until
 *   `close`. A handler that throws does not stop the orders after it. When it rejects (the
 *   broker is unreachable) nothing listens, and it may be called again.
 * - The count `disconnect` resolves with is the broker's count of listeners: an instance that
 *   is not listening is not in it (it shows as not ready, `gateway-control`).
 * - A malformed order on the channel (another deployment, a person with redis-cli) is dropped
 *   and reported to `onMalformed`, never handed to the handler.
 */
export interface GatewayControl {
  disconnect(order: DisconnectOrder): Promise<number>;
  listen(handler: (order: DisconnectOrder) => void): Promise<void>;
  /** Whether orders reach this instance now (listening, and its connection up). */
  readonly listening: boolean;
  close(): Promise<void>;
}

/** The order as it travels, or undefined when `text` is not one. */
export function parseOrder(text: string): DisconnectOrder | undefined {
  try {
    const value = JSON.parse(text) as Partial<DisconnectOrder> & { kind?: unknown };
    if (value.kind !== 'disconnect') return undefined;
    if (typeof value.userId !== 'string' || value.userId.length === 0) return undefined;
    if (typeof value.reason !== 'string') return undefined;
    return { userId: value.userId, reason: value.reason };
  } catch {
    return undefined;
  }
}

export function orderText(order: DisconnectOrder): string {
  return JSON.stringify({ kind: 'disconnect', userId: order.userId, reason: order.reason });
}
