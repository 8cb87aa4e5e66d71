export const CQRS_CORE_OPTIONS = Symbol('causeway:cqrs-core-options');
export const DEAD_LETTER_QUEUE = Symbol('causeway:dead-letter-queue');
export const MESSAGING_METRICS = Symbol('causeway:messaging-metrics');
/** The publisher the buses use (instrumented when the app has a metrics registry). */
export const BUS_PUBLISHER = Symbol('causeway:bus-publisher');
/** CqrsCoreModuleOptions.eventStore: `@Inject(EVENT_STORE) store: EventStore`. */
export const EVENT_STORE = Symbol('causeway:event-store');
/** CqrsCoreModuleOptions.snapshotStore: `@Inject(SNAPSHOT_STORE) snapshots: SnapshotStore`. */
export const SNAPSHOT_STORE = Symbol('causeway:snapshot-store');
