import { type ConfigurationError, loadConfiguration } from '@causeway/cqrs-core';
import { DEFAULT_ORDER_CATALOG, orderProcessorConfiguration } from './order-processor.config';

const required = {
  REDIS_URL: 'redis://127.0.0.1:6379',
  KAFKA_BROKERS: '127.0.0.1:9092',
  MONGODB_URI: 'mongodb://127.0.0.1:27017/causeway',
  JWT_SECRET: 'order-processor-unit-secret-0123456789',
  ADMIN_TOKEN: 'admin-0123456789-abcdef',
};

describe('order-processor settings', () => {
  it('has demo defaults: a day of history, a visible step pause, a catalogue and a limit', () => {
    const config = loadConfiguration(orderProcessorConfiguration, required);
    expect(config).toMatchObject({
      PROGRESS_HISTORY_TTL_MS: 86_400_000,
      ORDER_STEP_DELAY_MS: 400,
      PAYMENT_LIMIT_CENTS: 100_000,
    });
    expect(config.ORDER_CATALOG).toEqual(DEFAULT_ORDER_CATALOG);
  });

  it('reads a catalogue from ORDER_CATALOG and a step pause of 0', () => {
    const config = loadConfiguration(orderProcessorConfiguration, {
      ...required,
      ORDER_CATALOG: '{"tea": {"stock": 4, "priceCents": 300}}',
      ORDER_STEP_DELAY_MS: '0',
    });
    expect(config.ORDER_CATALOG).toEqual({ tea: { stock: 4, priceCents: 300 } });
    expect(config.ORDER_STEP_DELAY_MS).toBe(0);
  });

  it.each([
    ['ORDER_CATALOG', '{tea', 'ORDER_CATALOG: must be JSON'],
    [
      'ORDER_CATALOG',
      '{"tea": {"stock": -1, "priceCents": 3}}',
      'ORDER_CATALOG: sku tea: stock must not be negative',
    ],
    ['ORDER_CATALOG', '{}', 'ORDER_CATALOG: must list at least one sku'],
    // The field of the entry is named, not only its sku: "sku tea: Invalid input: expected
    // number, received undefined" left the operator to guess which of the two was wrong.
    [
      'ORDER_CATALOG',
      '{"tea": {"priceCents": 300}}',
      'ORDER_CATALOG: sku tea: stock must be a whole number of units',
    ],
    [
      'ORDER_CATALOG',
      '{"tea": {"stock": 4, "priceCents": "300"}}',
      'ORDER_CATALOG: sku tea: priceCents must be a whole number of cents',
    ],
    [
      'ORDER_CATALOG',
      '{"tea": 4}',
      'ORDER_CATALOG: sku tea: must be {"stock": n, "priceCents": n}',
    ],
    ['ORDER_CATALOG', '[1]', 'ORDER_CATALOG: must be JSON: {"<sku>"'],
    ['PAYMENT_LIMIT_CENTS', '12.5', 'PAYMENT_LIMIT_CENTS: must be a whole number of cents'],
    [
      'PROGRESS_HISTORY_TTL_MS',
      'a day',
      'PROGRESS_HISTORY_TTL_MS: must be a duration in milliseconds',
    ],
    ['ORDER_STEP_DELAY_MS', '-5', 'ORDER_STEP_DELAY_MS: must not be negative'],
  ])('refuses %s=%s, naming it', (name, value, message) => {
    expect(() =>
      loadConfiguration(orderProcessorConfiguration, { ...required, [name]: value }),
    ).toThrow(message);
  });

  // zod's int() refuses whole numbers beyond 2^53 - 1 too: PAYMENT_LIMIT_CENTS=9007199254740992
  // was told "must be a whole number of cents", which it is, and not the bound it is beyond.
  it.each([
    [
      'PAYMENT_LIMIT_CENTS',
      '9007199254740992',
      'PAYMENT_LIMIT_CENTS: must be at most 9007199254740991',
    ],
    [
      'PAYMENT_LIMIT_CENTS',
      '1'.padEnd(31, '0'),
      'PAYMENT_LIMIT_CENTS: must be at most 9007199254740991',
    ],
    [
      'ORDER_CATALOG',
      '{"tea": {"stock": 9007199254740992, "priceCents": 3}}',
      'ORDER_CATALOG: sku tea: stock must be at most 9007199254740991',
    ],
    [
      'ORDER_CATALOG',
      '{"tea": {"stock": 4, "priceCents": 1e30}}',
      'ORDER_CATALOG: sku tea: priceCents must be at most 9007199254740991',
    ],
  ])('refuses %s=%s beyond 2^53 - 1 naming the bound alone', (name, value, message) => {
    expect(() =>
      loadConfiguration(orderProcessorConfiguration, { ...required, [name]: value }),
    ).toThrow(new RegExp(`^Invalid configuration: ${message}$`));
  });

  it('takes 9007199254740991 cents and units, the bound, and still names a fraction as one', () => {
    const config = loadConfiguration(orderProcessorConfiguration, {
      ...required,
      PAYMENT_LIMIT_CENTS: '9007199254740991',
      ORDER_CATALOG: '{"tea": {"stock": 9007199254740991, "priceCents": 9007199254740991}}',
    });
    expect(config.PAYMENT_LIMIT_CENTS).toBe(Number.MAX_SAFE_INTEGER);
    expect(config.ORDER_CATALOG).toEqual({
      tea: { stock: Number.MAX_SAFE_INTEGER, priceCents: Number.MAX_SAFE_INTEGER },
    });
    expect(() =>
      loadConfiguration(orderProcessorConfiguration, {
        ...required,
        ORDER_CATALOG: '{"tea": {"stock": 1.5, "priceCents": 3}}',
      }),
    ).toThrow(
      /^Invalid configuration: ORDER_CATALOG: sku tea: stock must be a whole number of units$/,
    );
  });

  it.each([
    ['500', 'must be at least 6000 ms'],
    ['5999', 'must be at least 6000 ms'],
    ['1800001', 'must be at most 1800000 ms'],
  ])(
    'refuses ORDER_CONSUMER_SESSION_TIMEOUT_MS=%s a default broker refuses, naming it',
    (value, bound) => {
      // Below 501 ms cqrs-core refused the heartbeat (a TypeError naming its own options); up to
      // 5999 ms, or past 30 min, the broker refused every join and the consumer restarted forever.
      expect(() =>
        loadConfiguration(orderProcessorConfiguration, {
          ...required,
          ORDER_CONSUMER_SESSION_TIMEOUT_MS: value,
        }),
      ).toThrow(`ORDER_CONSUMER_SESSION_TIMEOUT_MS: ${bound}`);
    },
  );

  it.each(['6000', '1800000'])('takes ORDER_CONSUMER_SESSION_TIMEOUT_MS=%s, a bound', (value) => {
    const config = loadConfiguration(orderProcessorConfiguration, {
      ...required,
      ORDER_CONSUMER_SESSION_TIMEOUT_MS: value,
    });
    expect(config.ORDER_CONSUMER_SESSION_TIMEOUT_MS).toBe(Number(value));
  });

  // Session 48: three quarters of SHUTDOWN_TIMEOUT_MS go to the order consumer's Kafka close,
  // which takes up to the subscriber's close grace (CLOSE_GRACE_MS, 1 s) past its
  // closeTimeoutMs; below 1334 ms the grace alone outlasted that share, and the stores and
  // connections closed after it were cut off by the shutdown timeout.
  it('refuses a SHUTDOWN_TIMEOUT_MS the Kafka close grace does not fit in, naming both', () => {
    expect(() =>
      loadConfiguration(orderProcessorConfiguration, { ...required, SHUTDOWN_TIMEOUT_MS: '1333' }),
    ).toThrow(
      'SHUTDOWN_TIMEOUT_MS: must be at least 1334 ms: three quarters of it go to the order ' +
        "consumer's Kafka close, which takes up to CLOSE_GRACE_MS (1000 ms, the Kafka " +
        "subscriber's close grace) to commit and leave its group",
    );
    const config = loadConfiguration(orderProcessorConfiguration, {
      ...required,
      SHUTDOWN_TIMEOUT_MS: '1334',
    });
    expect(config.SHUTDOWN_TIMEOUT_MS).toBe(1334);
  });

  it('refuses a PROGRESS_HISTORY_TTL_MS an order’s delivery can outlast, naming the bound', () => {
    // 2 attempts of 1000 + 5 × 200 ms, and the one 100 ms backoff between them: 4100 ms.
    const limits = { EVENT_TIMEOUT_MS: '1000', MAX_RETRIES: '1', ORDER_STEP_DELAY_MS: '200' };
    expect(() =>
      loadConfiguration(orderProcessorConfiguration, {
        ...required,
        ...limits,
        PROGRESS_HISTORY_TTL_MS: '4100',
      }),
    ).toThrow(
      "PROGRESS_HISTORY_TTL_MS: must be more than 4100 ms, the longest an order's delivery may run (EVENT_TIMEOUT_MS 1000, MAX_RETRIES 1, ORDER_STEP_DELAY_MS 200: 2 attempts of 2000 ms and their retry backoffs)",
    );
    const config = loadConfiguration(orderProcessorConfiguration, {
      ...required,
      ...limits,
      PROGRESS_HISTORY_TTL_MS: '4101',
    });
    expect(config.PROGRESS_HISTORY_TTL_MS).toBe(4101);
  });

  // EVENT_TIMEOUT_MS=3000000000 (past the longest timer) was named, then named again through the
  // bound it made of PROGRESS_HISTORY_TTL_MS ("must be more than … (EVENT_TIMEOUT_MS 3000000000,
  // …"), which was fine. The TTL is compared once the settings its bound comes from are valid.
  it.each([
    [
      'EVENT_TIMEOUT_MS',
      '3000000000',
      'must be at most 2147483647 ms (~24.8 days, the longest timer)',
      {},
    ],
    // 2.5 attempts of 12000 ms and their backoffs are over 20000 ms.
    ['MAX_RETRIES', '1.5', 'must be a non-negative integer', { PROGRESS_HISTORY_TTL_MS: '20000' }],
    [
      'ORDER_STEP_DELAY_MS',
      '2147483648',
      'must be at most 2147483647 ms (~24.8 days, the longest timer)',
      {},
    ],
  ])(
    'names a bad %s once, not again through PROGRESS_HISTORY_TTL_MS',
    (setting, value, problem, others: Record<string, string>) => {
      let issues: unknown;
      try {
        loadConfiguration(orderProcessorConfiguration, {
          ...required,
          ...others,
          [setting]: value,
        });
      } catch (error) {
        issues = (error as ConfigurationError).issues;
      }
      expect(issues).toEqual([{ setting, problem }]);
    },
  );

  it('compares PROGRESS_HISTORY_TTL_MS with the delivery whatever else is wrong', () => {
    expect(() =>
      loadConfiguration(orderProcessorConfiguration, {
        ...required,
        REDIS_URL: 'localhost',
        PROGRESS_HISTORY_TTL_MS: '1000',
      }),
    ).toThrow(
      /REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL; PROGRESS_HISTORY_TTL_MS: must be more than/,
    );
  });
});

describe('order-processor settings: ADMIN_TOKEN apart from the token secrets', () => {
  // The admin token is sent by operators' scripts to every app, trainer-service and
  // projection-worker included, which never get JWT_SECRET: as a secret of the tokens it would
  // let whoever holds it sign a token for any user.
  const shared = 'a-secret-used-as-both-0123456789-abcdef';

  it('refuses a JWT_SECRET or a JWT_PREVIOUS_SECRETS entry that is ADMIN_TOKEN, naming it', () => {
    expect(() =>
      loadConfiguration(orderProcessorConfiguration, {
        ...required,
        JWT_SECRET: shared,
        ADMIN_TOKEN: shared,
      }),
    ).toThrow('JWT_SECRET: must not be ADMIN_TOKEN');
    expect(() =>
      loadConfiguration(orderProcessorConfiguration, {
        ...required,
        ADMIN_TOKEN: shared,
        JWT_PREVIOUS_SECRETS: `other-secret-0123456789-0123456789,${shared}`,
      }),
    ).toThrow('JWT_PREVIOUS_SECRETS: must not hold ADMIN_TOKEN');
  });
});
