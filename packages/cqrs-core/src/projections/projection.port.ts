import { type StoredEvent } from '../event-store/event-store.port';
import { type MessageType } from '../messages/message.type';

/**
 * A read model built from the global log of an event store, run by a ProjectionRunner.
 *
 * Contract: `apply` gets the events of `types` (every type when omitted) one at a time, in
 * global position order, the next after its promise resolves. Delivery is at least once:
 * after a restart or a failure, the events after the last saved checkpoint come again, so
 * `apply` must be idempotent — keep the version applied per stream (or per read-model row)
 * and ignore an event at or below it, or write with a key derived from `streamId` + `version`.
 * A failure (a rejected promise) is retried: the runner resubscribes from the event that
 * failed after a backoff, so a poison event stops only its own projection.
 */
export interface Projection {
  /** Names its checkpoint (unique per checkpoint store), its status and its metrics. */
  readonly name: string;
  /**
   * The event types it applies, by name or as message types (`types: [MoneyDeposited]`, whose
   * `is(event)` then narrows the event's data in `apply`); every type when omitted.
   */
  readonly types?: readonly (string | MessageType)[];
  apply(event: StoredEvent): Promise<void> | void;
  /**
   * Empties the read model, for `ProjectionRunner.rebuild()`: afterwards `apply` gets every
   * event of the log again, from the start. Optional; a projection without it cannot be rebuilt
   * by the runner.
   */
  reset?(): Promise<void> | void;
}
