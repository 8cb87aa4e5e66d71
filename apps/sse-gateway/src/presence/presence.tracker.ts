import { type SseConnection } from '../sse/sse.connection';
import { type ConnectionListener } from '../sse/sse.hub';
import { type InstancePresence, type PresenceRegistry } from './presence-registry.port';

/**
 * Keeps this instance's presence entries: one per open connection, plus the instance
 * heartbeat (every third of the TTL). If the registry says the instance had expired (a long
 * pause, Redis restarted), it writes every local connection again.
 *
 * Each beat first sweeps the entries of expired instances (killed gateways, this one's own
 * before a restart included) and hands the ones this instance removed to `onExpired`: the
 * registry gives each to one sweeper only, so their connections are reported closed once.
 */
export class PresenceTracker implements ConnectionListener {
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(
    private readonly registry: PresenceRegistry,
    private readonly serverId: string,
    private readonly local: () => Iterable<SseConnection>,
    private readonly onError: (message: string) => void,
    private readonly onExpired: (instance: InstancePresence) => void = () => undefined,
  ) {}

  start(): void {
    void this.beat();
    this.timer = setInterval(() => void this.beat(), Math.max(10, this.registry.ttlMs / 3));
    this.timer.unref();
  }

  opened(connection: SseConnection): void {
    this.registry
      .add(this.serverId, entry(connection))
      .catch((error: Error) => this.onError(`presence add failed: ${error.message}`));
  }

  closed(connection: SseConnection): void {
    if (this.stopping) return;
    this.registry
      .remove(this.serverId, connection.id)
      .catch((error: Error) => this.onError(`presence remove failed: ${error.message}`));
  }

  /** Call before the hub closes its connections: the instance is removed in one go. */
  beginStop(): void {
    this.stopping = true;
    clearInterval(this.timer);
  }

  async stop(): Promise<void> {
    this.beginStop();
    try {
      await this.registry.removeInstance(this.serverId);
    } catch (error) {
      this.onError(`presence removal failed: ${(error as Error).message}`);
    }
  }

  private async beat(): Promise<void> {
    try {
      for (const instance of await this.registry.sweep()) this.onExpired(instance);
    } catch (error) {
      this.onError(`presence sweep failed: ${(error as Error).message}`);
    }
    try {
      const wasAlive = await this.registry.heartbeat(this.serverId);
      if (!wasAlive && !this.stopping)
        await Promise.all(
          [...this.local()].map((connection) =>
            this.registry.add(this.serverId, entry(connection)),
          ),
        );
    } catch (error) {
      this.onError(`presence heartbeat failed: ${(error as Error).message}`);
    }
  }
}

function entry(connection: SseConnection) {
  return {
    connectionId: connection.id,
    userId: connection.userId,
    connectedAt: connection.openedAt,
  };
}
