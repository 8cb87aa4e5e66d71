import { EventStoreDecorator } from '../event-store/event-store.decorator';
import {
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type StoredEvent,
} from '../event-store/event-store.port';
import { type Envelope } from '../messages/envelope';
import { type EventForwarder } from './event.forwarder';

/**
 * An EventStore that hands each successful append to `forwarder.forwardNow` (eager forwarding,
 * docs/adr/005): the events reach the bus right after the append instead of at the forwarder's
 * next round, and the append does not wait for the publish. When they cannot be published now,
 * the forwarder is nudged. Everything else is the wrapped store's.
 *
 * Append through it in the process that runs `forwarder` (whether or not that process holds the
 * forwarding lease); appends of one stream must be made one after the other (as a repository
 * with optimistic concurrency does), so that they are forwarded in version order.
 */
export class EagerForwardingStore extends EventStoreDecorator {
  constructor(
    store: EventStore,
    private readonly forwarder: EventForwarder,
  ) {
    super(store);
  }

  override async append(
    streamId: string,
    events: readonly Envelope[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    const result = await this.store.append(streamId, events, options);
    // Empty positions: every event was a duplicate of a stored one, which the rounds forward.
    if (result.positions.length === events.length && events.length > 0) {
      const firstVersion = result.nextExpectedVersion - events.length + 1;
      const stored: StoredEvent[] = events.map((event, index) => ({
        ...event,
        streamId,
        version: firstVersion + index,
        position: result.positions[index]!,
      }));
      void this.forwarder.forwardNow(stored).then((published) => {
        if (!published) this.forwarder.nudge();
      });
    }
    return result;
  }
}
