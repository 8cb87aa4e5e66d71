import {
  ConfigurationError,
  decimal,
  MIN_SUBSCRIPTION_CLOSE_MS,
  minShutdownTimeoutMs,
  setting,
  SUBSCRIPTION_CLOSE_SHARE,
  topicNaming,
  wholeNumber,
} from '@causeway/cqrs-core';
import { MAX_PARTITIONS } from '@causeway/cqrs-core/redis';
import { z } from 'zod';

/**
 * The bearer token of /admin/* endpoints. Never logged. Without surrounding whitespace: a secret
 * file's trailing newline would make a token no client can present (HTTP trims header values).
 */
export const adminTokenSetting = z
  .string({ message: 'is required' })
  .min(16, 'must be at least 16 characters')
  .refine((token) => token.trim() === token, 'must not start or end with whitespace');

/** Settings of every app that takes part in messaging (S0-9 defaults). */
export const messagingSettings = {
  ADMIN_TOKEN: adminTokenSetting,
  TOPIC_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]*$/, 'may contain only letters, digits, ".", "_" and "-"')
    .default(''),
  COMMAND_TIMEOUT_MS: setting.milliseconds(30_000),
  /**
   * How far this host's clock may run ahead of the clocks that set commands' deadlines
   * (`CommandBusOptions.clockSkewMs`): a command expires once now > its deadline + this.
   */
  COMMAND_CLOCK_SKEW_MS: setting.milliseconds(0, 0),
  EVENT_TIMEOUT_MS: setting.milliseconds(10_000),
  /** A message in flight on a dead instance is handled elsewhere after this (renewed while alive). */
  DEDUP_LEASE_MS: setting.milliseconds(60_000),
  /**
   * Retries of a failed message before it is dead-lettered. At most 2^53 - 2: the router's
   * `maxAttempts` is this and the first attempt, a safe integer (2^53 - 1 was read, then refused
   * by the router at start without naming the setting).
   */
  MAX_RETRIES: decimal(
    wholeNumber('a non-negative integer', {
      max: Number.MAX_SAFE_INTEGER - 1,
      maxMessage:
        `must be at most ${Number.MAX_SAFE_INTEGER - 1} (retries after the first attempt: ` +
        `2^53 - 1 attempts in all)`,
    }),
  ).default(3),
  /**
   * Redis Streams per topic and priority lane (`RedisStreamsLayout.partitions`). Every app of a
   * deployment must use the same value; change it only with the streams drained.
   */
  // The bounds are the setting's own (not a .pipe after it, which a value beyond the setting's
  // wider bound never reached: 2^53 was told the bound of integers, 0 ms a minimum of 1 ms).
  REDIS_STREAMS_PARTITIONS: setting.positiveInt(8, MAX_PARTITIONS),
  /**
   * Priority lanes on the Redis Streams buses (`RedisStreamsLayout.priorities`). Off by default:
   * the reference system publishes no priorities, and each blocking read then names a quarter
   * of the streams. Every app of a deployment must use the same value.
   */
  REDIS_STREAMS_PRIORITIES: setting.boolean(false),
  /**
   * Partition lease of a Redis Streams consumer (`leaseTtlMs`, renewed every second): when an
   * instance dies, its partitions go to the others this long after its last renewal, and the
   * messages of those partitions wait meanwhile. At least 2000 ms (two heartbeats).
   */
  REDIS_STREAMS_LEASE_MS: setting.milliseconds(10_000, 2_000),
  /**
   * Messages a dead instance had taken but not acknowledged are handed to another after being
   * idle this long (`claimIdleMs`). Keep it above the handler timeouts: an instance that only
   * stalled may still be running the handler.
   */
  REDIS_STREAMS_CLAIM_IDLE_MS: setting.milliseconds(30_000),
  /**
   * Entries kept per stream of the buses (`maxLenPerStream`, `XADD MAXLEN ~`), for the streams
   * this app publishes to. Entries beyond it are trimmed even when a group has not read them yet:
   * keep it above the longest backlog (an outage of a consumer) you expect.
   */
  REDIS_STREAMS_MAX_LENGTH: setting.positiveInt(100_000),
};

export interface MessagingConfig {
  ADMIN_TOKEN: string;
  TOPIC_PREFIX: string;
  COMMAND_TIMEOUT_MS: number;
  COMMAND_CLOCK_SKEW_MS: number;
  EVENT_TIMEOUT_MS: number;
  MAX_RETRIES: number;
  DEDUP_LEASE_MS: number;
  REDIS_STREAMS_PARTITIONS: number;
  REDIS_STREAMS_PRIORITIES: boolean;
  REDIS_STREAMS_LEASE_MS: number;
  REDIS_STREAMS_CLAIM_IDLE_MS: number;
  REDIS_STREAMS_MAX_LENGTH: number;
  REDIS_URL: string;
  /** The service's graceful-stop budget (serviceSettings), when the app has one. */
  SHUTDOWN_TIMEOUT_MS?: number;
}

/**
 * How long a subscription's close() waits for handlers still running
 * (RedisStreamsSubscriberOptions.closeTimeoutMs, and KafkaSubscriberOptions.closeTimeoutMs for
 * order-processor's order consumer): three quarters of SHUTDOWN_TIMEOUT_MS, never more. It
 * then gives up on them and writes what finished — Redis Streams acknowledges it and hands its
 * other partitions over, Kafka commits it and leaves the group — before the shutdown timeout
 * ends the process, which would leave every partition to wait for its lease to lapse (Redis
 * Streams) or for the member's session to time out (Kafka). undefined (the subscribers'
 * default, 25 s) without SHUTDOWN_TIMEOUT_MS.
 *
 * `graceMs`: how long the subscriber's close() may still take after its closeTimeoutMs
 * (KafkaSubscriber: CLOSE_GRACE_MS, 1 s, to commit what finished and leave the group). It is
 * taken out of the three quarters, so the whole close stays within them — with
 * SHUTDOWN_TIMEOUT_MS 4000 a Kafka close took 3000 + 1000 ms, the whole budget, and what the
 * shutdown closes after it (stores, connections) was cut off (session 47). At
 * minShutdownTimeoutMs(graceMs) it is 0: the deliveries in flight are given up at once.
 * @throws ConfigurationError naming SHUTDOWN_TIMEOUT_MS and CLOSE_GRACE_MS when SHUTDOWN_TIMEOUT_MS
 *   is below minShutdownTimeoutMs(graceMs): the grace alone would outlast the three quarters (it
 *   answered 0 without a word, and the close cut off what the shutdown closes after it); without
 *   a grace, naming SHUTDOWN_TIMEOUT_MS when it is below
 *   minShutdownTimeoutMs(MIN_SUBSCRIPTION_CLOSE_MS), 667 ms, which serviceSettings refuses too:
 *   the three quarters hold no 500 ms wait (it answered 500 ms, past a budget of 400 ms)
 */
export function subscriptionCloseTimeoutMs(
  config: Pick<MessagingConfig, 'SHUTDOWN_TIMEOUT_MS'>,
  options: { graceMs?: number } = {},
): number | undefined {
  const budget = config.SHUTDOWN_TIMEOUT_MS;
  if (budget === undefined) return undefined;
  const share = Math.floor(budget * SUBSCRIPTION_CLOSE_SHARE);
  const graceMs = options.graceMs ?? 0;
  const least = minShutdownTimeoutMs(graceMs > 0 ? graceMs : MIN_SUBSCRIPTION_CLOSE_MS);
  if (budget < least)
    throw new ConfigurationError([
      {
        setting: 'SHUTDOWN_TIMEOUT_MS',
        problem:
          graceMs > 0
            ? `must be at least ${least} ms: three quarters of it go to a Kafka subscription's ` +
              `close, which takes up to CLOSE_GRACE_MS (${graceMs} ms, the Kafka subscriber's ` +
              `close grace) to commit and leave its group, got ${budget}`
            : `must be at least ${least} ms: three quarters of it go to a subscription's close, ` +
              `which waits at least ${MIN_SUBSCRIPTION_CLOSE_MS} ms for the handlers still ` +
              `running, got ${budget}`,
      },
    ]);
  return share - graceMs;
}

/**
 * The length each topic's streams are capped at (RedisStreamsPublisherOptions.maxLenPerStream):
 * `byEventType`'s for those event types' topics, REDIS_STREAMS_MAX_LENGTH for every other.
 */
export function streamMaxLengths(
  config: Pick<MessagingConfig, 'TOPIC_PREFIX' | 'REDIS_STREAMS_MAX_LENGTH'>,
  byEventType: Readonly<Record<string, number>> = {},
): (topic: string) => number {
  const naming = topicNaming(config.TOPIC_PREFIX);
  const byTopic = new Map(
    Object.entries(byEventType).map(([type, length]) => [naming.event(type), length]),
  );
  return (topic) => byTopic.get(topic) ?? config.REDIS_STREAMS_MAX_LENGTH;
}
