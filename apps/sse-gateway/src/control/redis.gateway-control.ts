import type Redis from 'ioredis';
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
  private subscriber: Redis | undefined;

  constructor(
    private readonly client: Redis,
    options: { keyPrefix?: string; onMalformed?: (text: string) => void } = {},
  ) {
    this.channel = `${options.keyPrefix ?? ''}sse-gateway:control`;
    this.onMalformed = options.onMalformed ?? (() => undefined);
  }

  private readonly onMalformed: (text: string) => void;

  get listening(): boolean {
    return this.subscriber?.status === 'ready';
  }

  disconnect(order: DisconnectOrder): Promise<number> {
    return this.client.publish(this.channel, orderText(order));
  }

  async listen(handler: (order: DisconnectOrder) => void): Promise<void> {
    if (this.subscriber) throw new Error('RedisGatewayControl is listening already');
    const subscriber = this.client.duplicate({ connectionName: 'sse-gateway:control' });
    this.subscriber = subscriber;
    subscriber.on('message', (channel: string, text: string) => {
      if (channel !== this.channel) return;
      const order = parseOrder(text);
      if (!order) return this.onMalformed(text);
      try {
        handler(order);
      } catch {
        // The contract: one failing order does not stop the next.
      }
    });
    // Errors are retried by ioredis; an unhandled 'error' event would end the process.
    subscriber.on('error', () => undefined);
    try {
      await subscriber.subscribe(this.channel);
    } catch (error) {
      // Not listening: the next `listen` starts over with a connection of its own.
      this.subscriber = undefined;
      subscriber.disconnect();
      throw error;
    }
  }

  async close(): Promise<void> {
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
  }
}
