export * from './mongodb.connection';
export * from './mongodb.snapshot-store';
export * from './mongodb.event-store';
export * from './mongodb.event-store.errors';
export {
  POSITIONS_PER_SLOT,
  type CommitDocument,
  type EventDocument,
} from './mongodb.event-store.documents';
export {
  MongoCommitLog,
  type CommitOutcome,
  type BeaconDocument,
  type SlotHint,
} from './mongodb.commit-log';
export * from './mongodb.checkpoint-store';
export * from './mongodb.dead-letter-queue';
export {
  ensureIndexes,
  planIndexes,
  IndexConflictError,
  type IndexSpec,
  type ExistingIndex,
} from './mongodb.indexes';
export * from './mongodb.read-store';
