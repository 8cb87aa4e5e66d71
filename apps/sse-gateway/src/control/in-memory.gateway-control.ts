import { type DisconnectOrder, type GatewayControl } from './gateway-control.port';

/**
 * The control channel of one process (the embedded mode, tests): every GatewayControl made with
 * the same `channel` hears the others. Orders are delivered in a later microtask, as a broker
 * would, never inside the `disconnect` call.
 */
export class InMemoryGatewayControl implements GatewayControl {
  private handler: ((order: DisconnectOrder) => void) | undefined;

  get listening(): boolean {
    return this.handler !== undefined;
  }

  constructor(private readonly channel = new Set<InMemoryGatewayControl>()) {}

  async disconnect(order: DisconnectOrder): Promise<number> {
    const listeners = [...this.channel];
    const copy = { ...order };
    queueMicrotask(() => {
      for (const control of listeners) control.deliver(copy);
    });
    return listeners.length;
  }

  async listen(handler: (order: DisconnectOrder) => void): Promise<void> {
    this.handler = handler;
    this.channel.add(this);
  }

  async close(): Promise<void> {
    this.channel.delete(this);
    this.handler = undefined;
  }

  private deliver(order: DisconnectOrder): void {
    try {
      this.handler?.(order);
    } catch {
      // The contract: one failing order does not stop the next.
    }
  }
}
