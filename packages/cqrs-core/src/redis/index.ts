export * from './redis.connection';
export * from './redis.event-store';
export * from './redis-streams.options';
export * from './redis-streams.errors';
export { MAX_PARTITIONS, StreamKeys, assignedPartitions, fnv1a } from './redis-streams.keys';
export {
  RedisStreamsPublisher,
  ENTRY_KEY_FIELD,
  ENTRY_MESSAGE_FIELD,
} from './redis-streams.publisher';
export { RedisStreamsSubscriber } from './redis-streams.subscriber';
export * from './redis.deduplication-store';
export * from './redis.dead-letter-queue';
export * from './redis.checkpoint-store';
export * from './redis.slot-hint';
export * from './redis-streams.lag';
export {
  TRIM_WARNING,
  trimmedUnread,
  warnOfTrimming,
  type TrimmedUnread,
} from './redis-streams.trimming';
export * from './redis.forward-ledger';
export * from './streams-layout.probe';
export * from './redis.lease';
export * from './redis.snapshot-store';
export * from './redis.script';
export * from './redis.read-store';
