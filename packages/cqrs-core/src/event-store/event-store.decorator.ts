import { type Envelope } from '../messages/envelope';
import {
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type ReadAllOptions,
  type ReadAllPage,
  type ReadStreamOptions,
  type RetentionPolicy,
  type StoredEvent,
  type StreamInfo,
  type Subscription,
  type SubscriptionOptions,
} from './event-store.port';

/**
 * An EventStore that hands every call to the wrapped one: extend it and override what a
 * decorator changes (e.g. `append` in EagerForwardingStore). The contract stays the wrapped
 * store's.
 */
export class EventStoreDecorator implements EventStore {
  constructor(protected readonly store: EventStore) {}

  init(): Promise<void> {
    return this.store.init();
  }

  append(
    streamId: string,
    events: readonly Envelope[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    return this.store.append(streamId, events, options);
  }

  readStream(streamId: string, options?: ReadStreamOptions): Promise<StoredEvent[]> {
    return this.store.readStream(streamId, options);
  }

  readAll(options?: ReadAllOptions): Promise<StoredEvent[]> {
    return this.store.readAll(options);
  }

  readAllPage(options?: ReadAllOptions): Promise<ReadAllPage> {
    return this.store.readAllPage(options);
  }

  subscribe(options: SubscriptionOptions): Subscription {
    return this.store.subscribe(options);
  }

  streamInfo(streamId: string): Promise<StreamInfo> {
    return this.store.streamInfo(streamId);
  }

  deleteStream(
    streamId: string,
    options: Parameters<EventStore['deleteStream']>[1],
  ): Promise<void> {
    return this.store.deleteStream(streamId, options);
  }

  truncateStream(streamId: string, beforeVersion: number): Promise<void> {
    return this.store.truncateStream(streamId, beforeVersion);
  }

  applyRetention(policy: RetentionPolicy): Promise<number> {
    return this.store.applyRetention(policy);
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
