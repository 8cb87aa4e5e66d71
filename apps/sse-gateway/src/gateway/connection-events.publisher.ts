import {
  CONNECTION_CLOSED_EVENT,
  CONNECTION_ESTABLISHED_EVENT,
  type ConnectionClosedEvent,
  type ConnectionEstablishedEvent,
} from '@causeway/contracts';
import { type EventBus, MessageFactory } from '@causeway/cqrs-core';
import { type InstancePresence } from '../presence/presence-registry.port';
import { type CloseReason, type SseConnection } from '../sse/sse.connection';
import { type ConnectionListener } from '../sse/sse.hub';

/**
 * S0-8: ConnectionEstablishedEvent / ConnectionClosedEvent on the event bus. Best effort: a
 * publish never delays a stream, and at most `maxInFlight` are pending (beyond that, events are
 * dropped and counted) so a broker outage cannot grow memory.
 */
export class ConnectionEventsPublisher implements ConnectionListener {
  private inFlight = 0;
  private readonly factory: MessageFactory;
  dropped = 0;

  constructor(
    private readonly bus: EventBus,
    private readonly serverId: string,
    private readonly onError: (message: string) => void,
    private readonly maxInFlight = 1_000,
  ) {
    this.factory = new MessageFactory({ issuerId: serverId, issuerType: 'system' });
  }

  opened(connection: SseConnection): void {
    const data: ConnectionEstablishedEvent = {
      userId: connection.userId,
      connectionId: connection.id,
      serverId: this.serverId,
      timestamp: Date.now(),
    };
    this.publish(CONNECTION_ESTABLISHED_EVENT, connection.userId, data);
  }

  closed(connection: SseConnection, reason: CloseReason): void {
    const data: ConnectionClosedEvent = {
      userId: connection.userId,
      connectionId: connection.id,
      serverId: this.serverId,
      timestamp: Date.now(),
      reason,
    };
    this.publish(CONNECTION_CLOSED_EVENT, connection.userId, data);
  }

  /**
   * The connections of a gateway whose presence expired (killed, or cut off for longer than
   * PRESENCE_TTL_MS) never got their ConnectionClosedEvent: this instance, which removed their
   * entries, publishes it for them (reason `instance-expired`, their own serverId).
   */
  expired(instance: InstancePresence): void {
    for (const entry of instance.connections) {
      const data: ConnectionClosedEvent = {
        userId: entry.userId,
        connectionId: entry.connectionId,
        serverId: instance.serverId,
        timestamp: Date.now(),
        reason: 'instance-expired',
      };
      this.publish(CONNECTION_CLOSED_EVENT, entry.userId, data);
    }
  }

  private publish(type: string, userId: string, data: object): void {
    if (this.inFlight >= this.maxInFlight) {
      this.dropped += 1;
      return;
    }
    this.inFlight += 1;
    const envelope = this.factory.create({
      type,
      data,
      category: 'event',
      aggregateId: userId,
      causedBy: null,
    });
    this.bus
      .publish([envelope])
      .catch((error: Error) => this.onError(`${type} not published: ${error.message}`))
      .finally(() => (this.inFlight -= 1));
  }
}
