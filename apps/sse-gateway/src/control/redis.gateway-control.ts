import type Redis from 'ioredis';
import { type RedisChannelSubscription, subscribeRedisChannel } from '@causeway/platform';
import {
  type DisconnectOrder,
  type GatewayControl,
  orderText,
  parseOrder,
} from './gateway-control.port';

/**
 * The control channel over Redis pub/sub: `PUBLISH <prefix>sse-gateway:control` and, to listen,
 * a connection of its own (a subscribed connection can do nothing else), duplicated from the
 * app's. ioredis re-subscribes after a reconnect; orders published while it was away are lost,
 * as the port says.
 */
export class RedisGatewayControl implements GatewayControl {
  readonly channel: string;
  private subscription: RedisChannelSubscription | undefined;

  constructor(
    private readonly client: Redis,
    options: { keyPrefix?: string; onMalformed?: (text: string) => void } = {},
  ) {
    this.channel = `${options.keyPrefix ?? ''}sse-gateway:control`;
    this.onMalformed = options.onMalformed ?? (() => undefined);
  }

  private readonly onMalformed: (text: string) => void;

  get listening(): boolean {
    return this.subscription?.connection.status === 'ready';
  }

  disconnect(order: DisconnectOrder): Promise<number> {
    return this.client.publish(this.channel, orderText(order));
  }

  async listen(handler: (order: DisconnectOrder) => void): Promise<void> {
    if (this.subscription) throw new Error('RedisGatewayControl is listening already');
    const subscription = subscribeRedisChannel(this.client, this.channel, {
      connectionName: 'sse-gateway:control',
      onMessage: (text) => {
        const order = parseOrder(text);
        if (!order) return this.onMalformed(text);
        try {
          handler(order);
        } catch {
          // The contract: one failing order does not stop the next.
        }
      },
    });
    this.subscription = subscription;
    try {
      await subscription.subscribed;
    } catch (error) {
      // Not listening: the next `listen` starts over with a connection of its own.
      if (this.subscription === subscription) this.subscription = undefined;
      throw error;
    }
  }

  async close(): Promise<void> {
    const subscription = this.subscription;
    this.subscription = undefined;
    await subscription?.close();
  }
}
