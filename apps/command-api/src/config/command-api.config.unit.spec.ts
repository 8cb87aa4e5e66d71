import { loadConfiguration } from '@causeway/cqrs-core';
import { commandApiConfiguration } from './command-api.config';

const required = {
  REDIS_URL: 'redis://127.0.0.1:6379',
  KAFKA_BROKERS: '127.0.0.1:9092',
  JWT_SECRET: 'command-api-unit-secret-0123456789-abc',
  ADMIN_TOKEN: 'admin-0123456789-abcdef',
};

describe('command-api settings: CORS_ORIGINS', () => {
  it('is no origin at all when unset or empty', () => {
    expect(loadConfiguration(commandApiConfiguration, required).CORS_ORIGINS).toEqual([]);
    expect(
      loadConfiguration(commandApiConfiguration, { ...required, CORS_ORIGINS: '' }).CORS_ORIGINS,
    ).toEqual([]);
  });

  it('reads exact origins, comma-separated', () => {
    expect(
      loadConfiguration(commandApiConfiguration, {
        ...required,
        CORS_ORIGINS: 'https://game.example.com,http://127.0.0.1:5500',
      }).CORS_ORIGINS,
    ).toEqual(['https://game.example.com', 'http://127.0.0.1:5500']);
  });

  it.each([
    ['*', 'CORS_ORIGINS: wildcards are not accepted'],
    ['https://*.example.com', 'CORS_ORIGINS: wildcards are not accepted'],
    [
      'https://game.example.com,ftp//x',
      'CORS_ORIGINS: not an origin (scheme://host[:port], without path, e.g. https://app.example.com): ftp//x',
    ],
  ])('refuses CORS_ORIGINS=%s, naming it', (value, message) => {
    expect(() =>
      loadConfiguration(commandApiConfiguration, { ...required, CORS_ORIGINS: value }),
    ).toThrow(message);
  });
});

describe('command-api settings: COMMAND_DEADLINE_MS', () => {
  it('is 60 s by default, 0 turns deadlines off', () => {
    expect(loadConfiguration(commandApiConfiguration, required).COMMAND_DEADLINE_MS).toBe(60_000);
    expect(
      loadConfiguration(commandApiConfiguration, { ...required, COMMAND_DEADLINE_MS: '0' })
        .COMMAND_DEADLINE_MS,
    ).toBe(0);
  });

  it.each(['-1', '1.5', 'soon'])('refuses COMMAND_DEADLINE_MS=%s, naming it', (value) => {
    expect(() =>
      loadConfiguration(commandApiConfiguration, { ...required, COMMAND_DEADLINE_MS: value }),
    ).toThrow('COMMAND_DEADLINE_MS');
  });
});

describe('command-api settings: COMMAND_BACKLOG_MAX', () => {
  it('is 10 000 by default, 0 turns the check off', () => {
    expect(loadConfiguration(commandApiConfiguration, required).COMMAND_BACKLOG_MAX).toBe(10_000);
    expect(
      loadConfiguration(commandApiConfiguration, { ...required, COMMAND_BACKLOG_MAX: '0' })
        .COMMAND_BACKLOG_MAX,
    ).toBe(0);
  });

  it.each(['-1', '1.5', 'many'])('refuses COMMAND_BACKLOG_MAX=%s, naming it', (value) => {
    expect(() =>
      loadConfiguration(commandApiConfiguration, { ...required, COMMAND_BACKLOG_MAX: value }),
    ).toThrow('COMMAND_BACKLOG_MAX');
  });

  // 2^53 was refused as "must be a non-negative integer", which it is, naming no bound (zod's
  // int() refuses whole numbers beyond 2^53 - 1 too), where MAX_RETRIES names it.
  it('refuses one beyond 2^53 - 1 naming the bound alone; fractions and negatives as before', () => {
    const load = (value: string) => () =>
      loadConfiguration(commandApiConfiguration, { ...required, COMMAND_BACKLOG_MAX: value })
        .COMMAND_BACKLOG_MAX;
    expect(load('9007199254740991')()).toBe(Number.MAX_SAFE_INTEGER);
    expect(load('9007199254740992')).toThrow(
      /^Invalid configuration: COMMAND_BACKLOG_MAX: must be at most 9007199254740991$/,
    );
    expect(load('1.5')).toThrow(
      /^Invalid configuration: COMMAND_BACKLOG_MAX: must be a non-negative integer$/,
    );
    expect(load('-1')).toThrow(
      /^Invalid configuration: COMMAND_BACKLOG_MAX: must not be negative$/,
    );
    // Was also told "must not be negative", one problem named twice (it is cqrs-core's
    // wholeNumber now).
    expect(load('-1.5')).toThrow(
      /^Invalid configuration: COMMAND_BACKLOG_MAX: must be a non-negative integer$/,
    );
  });
});

describe('command-api settings: PROGRESS_HISTORY_TTL_MS', () => {
  // The order topic is created with it as Kafka's retention (segment.ms an eighth of it, at least
  // 1 ms): a TTL below 8 ms passed this setting and failed the start on an error naming the
  // transport's `retentionMs`, not the setting to change.
  it('refuses a TTL the order topic cannot be kept for, naming the setting', () => {
    expect(() =>
      loadConfiguration(commandApiConfiguration, { ...required, PROGRESS_HISTORY_TTL_MS: '7' }),
    ).toThrow(/PROGRESS_HISTORY_TTL_MS.*at least 8/);
    expect(
      loadConfiguration(commandApiConfiguration, { ...required, PROGRESS_HISTORY_TTL_MS: '8' })
        .PROGRESS_HISTORY_TTL_MS,
    ).toBe(8);
  });
});

describe('command-api settings: ADMIN_TOKEN apart from the token secrets', () => {
  // The admin token is sent by operators' scripts to every app, trainer-service and
  // projection-worker included, which never get JWT_SECRET: as a secret of the tokens it would
  // let whoever holds it sign a token for any user.
  const shared = 'a-secret-used-as-both-0123456789-abcdef';

  it('refuses a JWT_SECRET or a JWT_PREVIOUS_SECRETS entry that is ADMIN_TOKEN, naming it', () => {
    expect(() =>
      loadConfiguration(commandApiConfiguration, {
        ...required,
        JWT_SECRET: shared,
        ADMIN_TOKEN: shared,
      }),
    ).toThrow('JWT_SECRET: must not be ADMIN_TOKEN');
    expect(() =>
      loadConfiguration(commandApiConfiguration, {
        ...required,
        ADMIN_TOKEN: shared,
        JWT_PREVIOUS_SECRETS: `other-secret-0123456789-0123456789,${shared}`,
      }),
    ).toThrow('JWT_PREVIOUS_SECRETS: must not hold ADMIN_TOKEN');
  });
});

describe('command-api settings: DEV_TOKENS', () => {
  it('refuses DEV_TOKENS=true with NODE_ENV=production, naming both: anyone could act as anyone', () => {
    // It only warned at start-up: a production deployment minted tokens for anyone who asked.
    expect(() =>
      loadConfiguration(commandApiConfiguration, {
        ...required,
        DEV_TOKENS: 'true',
        NODE_ENV: 'production',
      }),
    ).toThrow(
      'DEV_TOKENS: must not be true with NODE_ENV=production: POST /api/dev/tokens would give anyone a token for any user',
    );
    for (const env of [
      { DEV_TOKENS: 'false', NODE_ENV: 'production' },
      { DEV_TOKENS: 'true', NODE_ENV: 'development' },
      { DEV_TOKENS: 'true' },
    ])
      expect(() =>
        loadConfiguration(commandApiConfiguration, { ...required, ...env }),
      ).not.toThrow();
  });
});

describe('command-api settings: ORDER_TOPIC_PARTITIONS', () => {
  it('is 6 unless set, as order-processor’s, and reads a count', () => {
    expect(loadConfiguration(commandApiConfiguration, required).ORDER_TOPIC_PARTITIONS).toBe(6);
    expect(
      loadConfiguration(commandApiConfiguration, { ...required, ORDER_TOPIC_PARTITIONS: '3' })
        .ORDER_TOPIC_PARTITIONS,
    ).toBe(3);
  });

  it('refuses a count of 0, naming it', () => {
    expect(() =>
      loadConfiguration(commandApiConfiguration, { ...required, ORDER_TOPIC_PARTITIONS: '0' }),
    ).toThrow('ORDER_TOPIC_PARTITIONS: ');
  });
});
