import { ConfigurationError, loadConfiguration, topicNaming } from '@causeway/cqrs-core';
import { z } from 'zod';
import {
  messagingSettings,
  streamMaxLengths,
  subscriptionCloseTimeoutMs,
} from './messaging.settings';

describe('messagingSettings', () => {
  const schema = z.object(messagingSettings);
  const required = { ADMIN_TOKEN: 'admin-token-0123456789' };

  it('reads REDIS_STREAMS_PARTITIONS, 8 when unset', () => {
    expect(loadConfiguration(schema, required).REDIS_STREAMS_PARTITIONS).toBe(8);
    expect(
      loadConfiguration(schema, { ...required, REDIS_STREAMS_PARTITIONS: '2' })
        .REDIS_STREAMS_PARTITIONS,
    ).toBe(2);
  });

  it.each([
    ['0', 'must be a positive integer'],
    ['1.5', 'must be a positive integer'],
    ['many', 'must be a positive integer'],
    ['1025', 'must be at most 1024'],
    // Was "must be at most 9007199254740991": the bound of positive integers, not of partitions.
    ['2^53', 'must be at most 1024', '9007199254740992'],
  ])('refuses REDIS_STREAMS_PARTITIONS=%s, naming the setting', (label, message, value = label) => {
    expect(() =>
      loadConfiguration(schema, { ...required, REDIS_STREAMS_PARTITIONS: value }),
    ).toThrow(new RegExp(`^Invalid configuration: REDIS_STREAMS_PARTITIONS: ${message}$`));
  });

  it.each(['admin-token-of-24-chars! ', 'admin-token-of-24-chars!\n'])(
    'refuses ADMIN_TOKEN=%j: a token with whitespace around it can never be presented',
    (token) => {
      expect(() => loadConfiguration(schema, { ADMIN_TOKEN: token })).toThrow(
        'ADMIN_TOKEN: must not start or end with whitespace',
      );
    },
  );

  it('takes an ADMIN_TOKEN of only whitespace as missing', () => {
    expect(() => loadConfiguration(schema, { ADMIN_TOKEN: ' '.repeat(20) })).toThrow(
      'ADMIN_TOKEN: is required',
    );
  });

  it('refuses a timeout longer than the longest timer (it would fire after 1 ms), by name', () => {
    expect(() =>
      loadConfiguration(schema, { ...required, COMMAND_TIMEOUT_MS: '3000000000' }),
    ).toThrow('COMMAND_TIMEOUT_MS: must be at most 2147483647 ms');
    expect(
      loadConfiguration(schema, { ...required, COMMAND_TIMEOUT_MS: '2147483647' })
        .COMMAND_TIMEOUT_MS,
    ).toBe(2_147_483_647);
  });

  // 2^53 was refused as "must be a non-negative integer", which it is, naming no bound. And
  // 2^53 - 1 was read, then every app stopped at start with "start-up failed: retry: maxAttempts
  // must be a positive integer …, got 9007199254740992", naming no setting: the attempts are the
  // retries and the first, and must stay a safe integer.
  it('reads MAX_RETRIES, 3 when unset, and refuses one whose attempts (the first too) pass 2^53 - 1, naming the bound', () => {
    const load = (MAX_RETRIES?: string) => () =>
      loadConfiguration(schema, { ...required, ...(MAX_RETRIES !== undefined && { MAX_RETRIES }) })
        .MAX_RETRIES;
    expect(load()()).toBe(3);
    expect(load('0')()).toBe(0);
    expect(load('9007199254740990')()).toBe(Number.MAX_SAFE_INTEGER - 1);
    for (const beyond of ['9007199254740991', '9007199254740992'])
      expect(load(beyond)).toThrow(
        /^Invalid configuration: MAX_RETRIES: must be at most 9007199254740990 \(retries after the first attempt: 2\^53 - 1 attempts in all\)$/,
      );
    expect(load('1.5')).toThrow(
      /^Invalid configuration: MAX_RETRIES: must be a non-negative integer$/,
    );
    expect(load('-1')).toThrow(/^Invalid configuration: MAX_RETRIES: must not be negative$/);
    // Was also told "must not be negative": one problem named twice.
    expect(load('-1.5')).toThrow(
      /^Invalid configuration: MAX_RETRIES: must be a non-negative integer$/,
    );
  });

  it('reads COMMAND_CLOCK_SKEW_MS, 0 when unset, and refuses a negative one by name', () => {
    expect(loadConfiguration(schema, required).COMMAND_CLOCK_SKEW_MS).toBe(0);
    expect(
      loadConfiguration(schema, { ...required, COMMAND_CLOCK_SKEW_MS: '2000' })
        .COMMAND_CLOCK_SKEW_MS,
    ).toBe(2000);
    expect(() => loadConfiguration(schema, { ...required, COMMAND_CLOCK_SKEW_MS: '-5' })).toThrow(
      'COMMAND_CLOCK_SKEW_MS',
    );
  });

  it('caps streams at REDIS_STREAMS_MAX_LENGTH (100 000 when unset), given event types at their own length', () => {
    expect(loadConfiguration(schema, required).REDIS_STREAMS_MAX_LENGTH).toBe(100_000);
    expect(() => loadConfiguration(schema, { ...required, REDIS_STREAMS_MAX_LENGTH: '0' })).toThrow(
      'REDIS_STREAMS_MAX_LENGTH: must be a positive integer',
    );
    const config = loadConfiguration(schema, {
      ...required,
      TOPIC_PREFIX: 'prod-',
      REDIS_STREAMS_MAX_LENGTH: '5000',
    });
    const lengthOf = streamMaxLengths(config, { ConnectionClosedEvent: 10 });
    expect(lengthOf(topicNaming('prod-').event('ConnectionClosedEvent'))).toBe(10);
    expect(lengthOf(topicNaming('prod-').event('TrainerMovedEvent'))).toBe(5000);
    expect(lengthOf(topicNaming('prod-').command('MoveTrainerCommand'))).toBe(5000);
  });

  it('turns the priority lanes off unless REDIS_STREAMS_PRIORITIES is true', () => {
    expect(loadConfiguration(schema, required).REDIS_STREAMS_PRIORITIES).toBe(false);
    expect(
      loadConfiguration(schema, { ...required, REDIS_STREAMS_PRIORITIES: 'true' })
        .REDIS_STREAMS_PRIORITIES,
    ).toBe(true);
    expect(() =>
      loadConfiguration(schema, { ...required, REDIS_STREAMS_PRIORITIES: 'yes' }),
    ).toThrow('REDIS_STREAMS_PRIORITIES: must be true or false');
  });

  it('reads the partition lease and the claim idle time, refusing a lease under two heartbeats', () => {
    const config = loadConfiguration(schema, required);
    expect([config.REDIS_STREAMS_LEASE_MS, config.REDIS_STREAMS_CLAIM_IDLE_MS]).toEqual([
      10_000, 30_000,
    ]);
    expect(
      loadConfiguration(schema, { ...required, REDIS_STREAMS_LEASE_MS: '3000' })
        .REDIS_STREAMS_LEASE_MS,
    ).toBe(3000);
    // 0 was refused as "must be at least 1 ms", a minimum it does not have.
    for (const value of ['1500', '0', '-1'])
      expect(() =>
        loadConfiguration(schema, { ...required, REDIS_STREAMS_LEASE_MS: value }),
      ).toThrow(/^Invalid configuration: REDIS_STREAMS_LEASE_MS: must be at least 2000 ms$/);
    expect(() =>
      loadConfiguration(schema, { ...required, REDIS_STREAMS_CLAIM_IDLE_MS: 'soon' }),
    ).toThrow('REDIS_STREAMS_CLAIM_IDLE_MS: must be a duration in milliseconds');
  });

  it('gives a subscription three quarters of SHUTDOWN_TIMEOUT_MS to close, so it hands over before the process ends', () => {
    expect(subscriptionCloseTimeoutMs({ SHUTDOWN_TIMEOUT_MS: 10_000 })).toBe(7_500);
    expect(subscriptionCloseTimeoutMs({ SHUTDOWN_TIMEOUT_MS: 667 })).toBe(500);
    // An app without the setting keeps the subscriber's own default.
    expect(subscriptionCloseTimeoutMs({})).toBeUndefined();
  });

  // A review (session 49): with SHUTDOWN_TIMEOUT_MS 400 the close waited 500 ms, longer than
  // the whole budget: the shutdown timeout ended the process before the subscription had
  // written what finished, and what the shutdown closes after it never closed.
  it.each([666, 400, 1])(
    'refuses a SHUTDOWN_TIMEOUT_MS of %i ms, whose three quarters hold no 500 ms close, naming it',
    (budget) => {
      const closeTimeout = () => subscriptionCloseTimeoutMs({ SHUTDOWN_TIMEOUT_MS: budget });
      expect(closeTimeout).toThrow(ConfigurationError);
      expect(closeTimeout).toThrow(
        'Invalid configuration: SHUTDOWN_TIMEOUT_MS: must be at least 667 ms: three quarters ' +
          "of it go to a subscription's close, which waits at least 500 ms for the handlers " +
          `still running, got ${budget}`,
      );
    },
  );

  // A review (session 47): KafkaSubscriber.close() resolves up to CLOSE_GRACE_MS (1 s) after its
  // closeTimeoutMs, so with SHUTDOWN_TIMEOUT_MS 4000 order-processor's Kafka close could take
  // 3000 + 1000 ms, the whole budget: the stores and connections closed after it never did.
  it("keeps a subscriber's close grace within the three quarters", () => {
    const bound = (budget: number) =>
      subscriptionCloseTimeoutMs({ SHUTDOWN_TIMEOUT_MS: budget }, { graceMs: 1_000 })! + 1_000;
    expect(bound(4_000)).toBe(3_000);
    expect(bound(10_000)).toBe(7_500);
    expect(bound(2_000)).toBe(1_500);
    // Just what the grace takes: the handlers get no wait at all, the close still fits.
    expect(subscriptionCloseTimeoutMs({ SHUTDOWN_TIMEOUT_MS: 1_334 }, { graceMs: 1_000 })).toBe(0);
    expect(subscriptionCloseTimeoutMs({}, { graceMs: 1_000 })).toBeUndefined();
  });

  // A review (session 48): below 4/3 of the grace it answered 0 without a word, and the close
  // still outlasted the three quarters; only order-processor refused such a SHUTDOWN_TIMEOUT_MS
  // (in its own configuration), any other app building a Kafka subscriber took it.
  it.each([1_333, 1_000, 1])(
    'refuses a SHUTDOWN_TIMEOUT_MS of %i ms, whose three quarters the close grace outlasts, naming both',
    (budget) => {
      const closeTimeout = () =>
        subscriptionCloseTimeoutMs({ SHUTDOWN_TIMEOUT_MS: budget }, { graceMs: 1_000 });
      expect(closeTimeout).toThrow(ConfigurationError);
      expect(closeTimeout).toThrow(
        'Invalid configuration: SHUTDOWN_TIMEOUT_MS: must be at least 1334 ms: three quarters ' +
          "of it go to a Kafka subscription's close, which takes up to CLOSE_GRACE_MS (1000 ms, " +
          `the Kafka subscriber's close grace) to commit and leave its group, got ${budget}`,
      );
    },
  );
});
