import {
  CONNECTION_CLOSED_EVENT,
  CONNECTION_ESTABLISHED_EVENT,
  type ConnectionClosedEvent,
  type ConnectionEstablishedEvent,
} from '@causeway/contracts';
import { type Envelope, type EventBus, MessageFactory } from '@causeway/cqrs-core';
import { type InstancePresence, type PresenceEntry } from '../presence/presence-registry.port';
import { type CloseReason, type SseConnection } from '../sse/sse.connection';
import { type ConnectionListener } from '../sse/sse.hub';

/** How ConnectionEventsPublisher queues and sends. */
export interface ConnectionEventsOptions {
  /**
   * Events waiting to be published, at most (default 30 000): beyond it, events are dropped and
   * counted. Size it well above what a burst can produce with a healthy bus, an Established and
   * a Closed per local connection plus a dead instance's connections (GatewayModule: 3 ×
   * MAX_CONNECTIONS), so that only a broker outage drops any.
   */
  maxQueued?: number;
  /** Events per `bus.publish` (default 500): the bus pipelines a batch. */
  batchSize?: number;
  /** Batches in flight at once (default 4). */
  maxBatchesInFlight?: number;
}

/** An event waiting to be published: `key` is its connection's id. */
interface Queued {
  key: string;
  envelope: Envelope;
}

/**
 * S0-8: ConnectionEstablishedEvent / ConnectionClosedEvent on the event bus. Best effort: a
 * publish never delays a stream. Events are queued and sent in batches (`bus.publish` of up to
 * `batchSize`, `maxBatchesInFlight` at once), so that the streams that end in one synchronous
 * loop (a shutdown, streams opened together reaching their timeout, an unreadable log, a dead
 * instance's presence swept) are all published with a healthy bus. Only beyond `maxQueued` are
 * events dropped (counted in `dropped`, and logged), so that a broker outage cannot grow memory.
 *
 * A connection's events go out in the order they came (Established before Closed): a batch
 * stops before an event whose connection has one in a batch still in flight. A connection whose
 * Established was dropped gets no Closed either (dropped too, as a consumer would see a close for
 * a connection it never saw open).
 */
export class ConnectionEventsPublisher implements ConnectionListener {
  private readonly factory: MessageFactory;
  private readonly queue: Queued[] = [];
  private batchesInFlight = 0;
  private eventsInFlight = 0;
  /** The connections with an event in a batch in flight, with how many. */
  private readonly sending = new Map<string, number>();
  private scheduled = false;
  /** Told when the queue and the batches in flight are empty (`flush`). */
  private readonly idle = new Set<() => void>();
  private readonly maxQueued: number;
  private readonly batchSize: number;
  private readonly maxBatchesInFlight: number;
  dropped = 0;
  /** Whether events were dropped since the queue was last empty (logged once per such spell). */
  private dropping = false;
  /**
   * Connections whose latest Established was dropped: their Closed (theirs, or a sweep's
   * `instance-expired`) is not published. At most `maxQueued` (the oldest forgotten).
   */
  private readonly unannounced = new Set<string>();

  constructor(
    private readonly bus: EventBus,
    private readonly serverId: string,
    private readonly onError: (message: string) => void,
    options: ConnectionEventsOptions = {},
  ) {
    this.factory = new MessageFactory({ issuerId: serverId, issuerType: 'system' });
    this.maxQueued = options.maxQueued ?? 30_000;
    this.batchSize = options.batchSize ?? 500;
    this.maxBatchesInFlight = options.maxBatchesInFlight ?? 4;
  }

  /** Events waiting or in flight. */
  get pending(): number {
    return this.queue.length + this.eventsInFlight;
  }

  opened(connection: SseConnection): void {
    this.established(connection.userId, connection.id);
  }

  /**
   * GatewayModule calls it through PresenceTracker (`onClosed`), not as the hub's listener: not
   * for a stream whose presence a sweep took and reported closed already (`expired`).
   */
  closed(connection: SseConnection, reason: CloseReason): void {
    if (this.unannounced.delete(connection.id)) {
      this.dropped += 1;
      return;
    }
    const data: ConnectionClosedEvent = {
      userId: connection.userId,
      connectionId: connection.id,
      serverId: this.serverId,
      timestamp: Date.now(),
      reason,
    };
    this.publish(CONNECTION_CLOSED_EVENT, connection.userId, connection.id, data);
  }

  /**
   * Connections of this instance whose presence a sweep took (reported closed, `expired`) while
   * they stayed open (the instance paused past PRESENCE_TTL_MS): established again, so that a
   * consumer sees them open until their real close.
   */
  restored(entries: readonly PresenceEntry[]): void {
    for (const entry of entries) this.established(entry.userId, entry.connectionId);
  }

  /** A ConnectionEstablishedEvent for a stream of this instance. */
  private established(userId: string, connectionId: string): void {
    const data: ConnectionEstablishedEvent = {
      userId,
      connectionId,
      serverId: this.serverId,
      timestamp: Date.now(),
    };
    if (this.publish(CONNECTION_ESTABLISHED_EVENT, userId, connectionId, data))
      this.unannounced.delete(connectionId);
    else {
      this.unannounced.add(connectionId);
      if (this.unannounced.size > this.maxQueued)
        this.unannounced.delete(this.unannounced.values().next().value!);
    }
  }

  /**
   * The connections of a gateway whose presence expired (killed, or cut off for longer than
   * PRESENCE_TTL_MS) never got their ConnectionClosedEvent: this instance, which removed their
   * entries, publishes it for them (reason `instance-expired`, their own serverId).
   */
  expired(instance: InstancePresence): void {
    for (const entry of instance.connections) {
      // This instance's own stream (it paused past the TTL) whose Established was dropped.
      if (this.unannounced.delete(entry.connectionId)) {
        this.dropped += 1;
        continue;
      }
      const data: ConnectionClosedEvent = {
        userId: entry.userId,
        connectionId: entry.connectionId,
        serverId: instance.serverId,
        timestamp: Date.now(),
        reason: 'instance-expired',
      };
      this.publish(CONNECTION_CLOSED_EVENT, entry.userId, entry.connectionId, data);
    }
  }

  /**
   * Resolves once every event queued so far is published (or failed), or after `timeoutMs`
   * (true if everything went). Shutdown awaits it after the hub ended its streams, before the
   * bus closes (CqrsCoreModule, a global module, closes its publisher after GatewayModule's
   * `beforeApplicationShutdown`).
   */
  async flush(timeoutMs: number): Promise<boolean> {
    if (this.pending === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    let done: (() => void) | undefined;
    const flushed = await Promise.race([
      new Promise<true>((resolve) => this.idle.add((done = () => resolve(true)))),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    this.idle.delete(done!);
    return flushed;
  }

  /** Queues the event: false if it was dropped. */
  private publish(type: string, userId: string, key: string, data: object): boolean {
    if (this.queue.length >= this.maxQueued) {
      this.dropped += 1;
      if (!this.dropping)
        this.onError(
          `connection events not published: ${this.maxQueued} are waiting for the bus; ` +
            'dropping more until it catches up',
        );
      this.dropping = true;
      return false;
    }
    const envelope = this.factory.create({
      type,
      data,
      category: 'event',
      aggregateId: userId,
      causedBy: null,
    });
    this.queue.push({ key, envelope });
    // After the current synchronous step: the streams it ends go out together.
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        this.pump();
      });
    }
    return true;
  }

  /** Sends batches while there is room in flight and events whose connection is not in flight. */
  private pump(): void {
    while (this.batchesInFlight < this.maxBatchesInFlight && this.queue.length > 0) {
      let taken = 0;
      while (
        taken < this.queue.length &&
        taken < this.batchSize &&
        !this.sending.has(this.queue[taken]!.key)
      )
        taken += 1;
      if (taken === 0) break;
      this.send(this.queue.splice(0, taken));
    }
    if (this.queue.length === 0 && this.batchesInFlight === 0) {
      this.dropping = false;
      for (const done of [...this.idle]) done();
    }
  }

  private send(batch: Queued[]): void {
    this.batchesInFlight += 1;
    this.eventsInFlight += batch.length;
    for (const { key } of batch) this.sending.set(key, (this.sending.get(key) ?? 0) + 1);
    this.bus
      .publish(batch.map(({ envelope }) => envelope))
      .catch((error: Error) =>
        this.onError(`${batch.length} connection event(s) not published: ${error.message}`),
      )
      .finally(() => {
        this.batchesInFlight -= 1;
        this.eventsInFlight -= batch.length;
        for (const { key } of batch) {
          const count = this.sending.get(key)! - 1;
          if (count === 0) this.sending.delete(key);
          else this.sending.set(key, count);
        }
        this.pump();
      });
  }
}
