import { z } from 'zod';
import { ConfigurationError } from './configuration.error';
import { loadConfiguration } from './configuration.loader';
import {
  connectionSettings,
  decimal,
  serviceSettings,
  setting,
  whateverElseFails,
  wholeNumber,
} from './settings.schema';

const schema = z.object({
  ...serviceSettings,
  PORT: setting.port(3000),
  REDIS_URL: setting.redisUrl(),
  KAFKA_BROKERS: setting.kafkaBrokers(),
  MONGODB_URI: setting.mongoUri(),
  DEBUG_SQL: setting.boolean(false),
});

const valid = {
  REDIS_URL: 'redis://127.0.0.1:16379',
  KAFKA_BROKERS: '127.0.0.1:19092,127.0.0.1:19094',
  MONGODB_URI: 'mongodb://127.0.0.1:37017/causeway',
};

describe('loadConfiguration', () => {
  it('parses, coerces and applies defaults', () => {
    const config = loadConfiguration(schema, { ...valid, PORT: '8080', DEBUG_SQL: 'true' });
    expect(config).toMatchObject({
      PORT: 8080,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      DEBUG_SQL: true,
      SHUTDOWN_TIMEOUT_MS: 10_000,
      KAFKA_BROKERS: ['127.0.0.1:19092', '127.0.0.1:19094'],
    });
  });

  // It had a minimum of 1 ms: three quarters of it go to closing the subscriptions, which wait
  // at least 500 ms for their handlers, so a shorter one was outlasted by that wait alone.
  it('refuses a SHUTDOWN_TIMEOUT_MS whose three quarters hold no 500 ms close', () => {
    expect(loadConfiguration(schema, { ...valid, SHUTDOWN_TIMEOUT_MS: '667' })).toMatchObject({
      SHUTDOWN_TIMEOUT_MS: 667,
    });
    for (const value of ['666', '400', '1'])
      expect(() => loadConfiguration(schema, { ...valid, SHUTDOWN_TIMEOUT_MS: value })).toThrow(
        /^Invalid configuration: SHUTDOWN_TIMEOUT_MS: must be at least 667 ms: three quarters of it go to closing the subscriptions, which wait at least 500 ms for the handlers still running$/,
      );
  });

  it('takes an empty variable as unset: defaults apply, a required one is missing', () => {
    const config = loadConfiguration(schema, { ...valid, PORT: '', DEBUG_SQL: '' });
    expect(config).toMatchObject({ PORT: 3000, DEBUG_SQL: false });
    expect(() => loadConfiguration(schema, { ...valid, REDIS_URL: '' })).toThrow(
      'REDIS_URL: is required',
    );
  });

  it("keeps a schema's own 'is required (…)' message for a missing setting, no other", () => {
    const shared = z.object({
      SECRET: z.string({ message: 'is required (shared by app-a and app-b)' }).min(8),
      NAME: z.string({ message: 'must be text' }),
    });
    const problems = (env: NodeJS.ProcessEnv) => {
      try {
        loadConfiguration(shared, env);
      } catch (error) {
        return (error as ConfigurationError).issues;
      }
      return undefined;
    };
    expect(problems({ SECRET: ' ' })).toEqual([
      { setting: 'SECRET', problem: 'is required (shared by app-a and app-b)' },
      { setting: 'NAME', problem: 'is required' },
    ]);
  });

  it('takes a blank variable as unset too, not as 0', () => {
    const limits = z.object({
      SHUTDOWN_TIMEOUT_MS: setting.milliseconds(10_000, 0),
      MAX_RETRIES: setting.positiveInt(3),
      REDIS_URL: setting.redisUrl(),
    });
    expect(
      loadConfiguration(limits, {
        SHUTDOWN_TIMEOUT_MS: ' ',
        MAX_RETRIES: '\t',
        REDIS_URL: valid.REDIS_URL,
      }),
    ).toEqual({ SHUTDOWN_TIMEOUT_MS: 10_000, MAX_RETRIES: 3, REDIS_URL: valid.REDIS_URL });
    expect(() => loadConfiguration(limits, { REDIS_URL: '  ' })).toThrow('REDIS_URL: is required');
  });

  it.each(['0x1F90', '8e3', 'Infinity', '8080 tcp', '1_000'])(
    'reads numbers in decimal only: PORT=%s is refused, not read as another number',
    (value) => {
      expect(() => loadConfiguration(schema, { ...valid, PORT: value })).toThrow(
        'PORT: must be a TCP port (1-65535)',
      );
    },
  );

  // A fraction is named as no port too, not with zod's "Invalid input: expected int, received
  // number" (what a bare int() says without a message of its own or of its schema).
  it.each(['1.5', '8080.5', '0', '-1', '65536'])('refuses PORT=%s as no TCP port', (value) => {
    expect(() => loadConfiguration(schema, { ...valid, PORT: value })).toThrow(
      /^Invalid configuration: PORT: must be a TCP port \(1-65535\)$/,
    );
  });

  it('reads signs, spaces around and fractions as decimals, and names a fraction where a whole number is due', () => {
    expect(loadConfiguration(schema, { ...valid, PORT: ' 8080 ' }).PORT).toBe(8080);
    expect(() => loadConfiguration(schema, { ...valid, SHUTDOWN_TIMEOUT_MS: '1.5' })).toThrow(
      'SHUTDOWN_TIMEOUT_MS: must be a duration in whole milliseconds',
    );
    expect(() => loadConfiguration(schema, { ...valid, SHUTDOWN_TIMEOUT_MS: '-5' })).toThrow(
      'SHUTDOWN_TIMEOUT_MS: must',
    );
  });

  // Beyond 2^53 - 1 zod's int() fails too: MAX_RETRIES=9007199254740992 was refused as
  // "must be a positive integer; must be at most 9007199254740991", the first untrue.
  it.each([
    ['MAX_RETRIES', 'must be at most 9007199254740991'],
    ['RETENTION_MS', 'must be at most 9007199254740991 ms'],
    ['TIMEOUT_MS', 'must be at most 2147483647 ms (~24.8 days, the longest timer)'],
  ])('refuses %s=2^53 naming the bound alone, not as a fraction', (name, problem) => {
    const limits = z.object({
      MAX_RETRIES: setting.positiveInt(3),
      RETENTION_MS: setting.age(1_000),
      TIMEOUT_MS: setting.milliseconds(1_000),
    });
    for (const value of ['9007199254740992', '1'.padEnd(31, '0')])
      expect(() => loadConfiguration(limits, { [name]: value })).toThrow(
        new RegExp(`^Invalid configuration: ${name}: ${problem.replace(/[()~.]/g, '\\$&')}$`),
      );
    // A fraction is still named as one.
    expect(() => loadConfiguration(limits, { [name]: '1.5' })).toThrow(
      /must be a positive integer|whole milliseconds/,
    );
  });

  it('reads a wholeNumber from 0 to 2^53 - 1, naming the bound, a fraction and a sign apart', () => {
    const amounts = z.object({
      LIMIT_CENTS: decimal(wholeNumber('a whole number of cents')).default(0),
      STOCK: wholeNumber('a whole number of units', 'stock').optional(),
    });
    expect(loadConfiguration(amounts, { LIMIT_CENTS: '9007199254740991' })).toEqual({
      LIMIT_CENTS: Number.MAX_SAFE_INTEGER,
    });
    expect(loadConfiguration(amounts, { LIMIT_CENTS: '0' })).toEqual({ LIMIT_CENTS: 0 });
    const refusal = (env: Record<string, unknown>) => {
      const result = amounts.safeParse(env);
      return result.success ? undefined : result.error.issues.map((issue) => issue.message);
    };
    // zod's int() told 2^53 "must be a whole number of cents", which it is.
    expect(refusal({ LIMIT_CENTS: '9007199254740992' })).toEqual([
      'must be at most 9007199254740991',
    ]);
    expect(refusal({ LIMIT_CENTS: '1.5' })).toEqual(['must be a whole number of cents']);
    expect(refusal({ LIMIT_CENTS: 'ten' })).toEqual(['must be a whole number of cents']);
    expect(refusal({ LIMIT_CENTS: '-1' })).toEqual(['must not be negative']);
    expect(refusal({ STOCK: 2 ** 53 })).toEqual(['stock must be at most 9007199254740991']);
    expect(refusal({ STOCK: 0.5 })).toEqual(['stock must be a whole number of units']);
    expect(refusal({ STOCK: '4' })).toEqual(['stock must be a whole number of units']);
    expect(refusal({ STOCK: -4 })).toEqual(['stock must not be negative']);
  });

  it('bounds a wholeNumber by its max, in its own words, and names a fraction beyond it once', () => {
    const limits = z.object({
      RETRIES: decimal(
        wholeNumber('a whole number of retries', {
          max: 10,
          maxMessage: 'must be at most 10 (retries after the first attempt)',
        }),
      ).default(3),
      SEATS: wholeNumber('a whole number of seats', { field: 'seats', max: 4 }).optional(),
    });
    const refusal = (env: Record<string, unknown>) => {
      const result = limits.safeParse(env);
      return result.success ? undefined : result.error.issues.map((issue) => issue.message);
    };
    expect(loadConfiguration(limits, { RETRIES: '10' })).toEqual({ RETRIES: 10 });
    expect(refusal({ RETRIES: '11' })).toEqual([
      'must be at most 10 (retries after the first attempt)',
    ]);
    expect(refusal({ RETRIES: '10.5' })).toEqual(['must be a whole number of retries']);
    expect(refusal({ RETRIES: '-1' })).toEqual(['must not be negative']);
    expect(refusal({ SEATS: 4 })).toBeUndefined();
    expect(refusal({ SEATS: 5 })).toEqual(['seats must be at most 4']);
    expect(refusal({ SEATS: 2 ** 53 })).toEqual(['seats must be at most 4']);
    // A bound no whole number setting can hold is a mistake in the schema, refused where it is made.
    expect(() => wholeNumber(undefined, { max: 2 ** 53 })).toThrow(RangeError);
    expect(() => wholeNumber(undefined, { max: 1.5 })).toThrow(RangeError);
  });

  // A fraction below a minimum (or past a maximum) was told both: "must be a duration in whole
  // milliseconds; must be at least 300 ms", one problem named twice.
  it.each([
    ['LEASE_MS', '1.5', 'must be a duration in whole milliseconds'],
    ['LEASE_MS', '-1.5', 'must be a duration in whole milliseconds'],
    ['TIMEOUT_MS', '-1.5', 'must be a duration in whole milliseconds'],
    ['TIMEOUT_MS', '2147483647.5', 'must be a duration in whole milliseconds'],
    ['SKEW_MS', '-0.5', 'must be a duration in whole milliseconds'],
    ['RETENTION_MS', '-1.5', 'must be a duration in whole milliseconds'],
    ['LIMIT_CENTS', '-1.5', 'must be a whole number of cents'],
  ])('refuses %s=%s naming one problem, the first', (name, value, problem) => {
    const limits = z.object({
      LEASE_MS: setting.milliseconds(5_000, 300),
      TIMEOUT_MS: setting.milliseconds(1_000),
      SKEW_MS: setting.milliseconds(0, 0),
      RETENTION_MS: setting.age(1_000),
      LIMIT_CENTS: decimal(wholeNumber('a whole number of cents')).default(0),
    });
    const result = limits.safeParse({ [name]: value });
    expect(result.error?.issues.map((issue) => issue.message)).toEqual([problem]);
  });

  it('bounds a timer in seconds by the longest timer', () => {
    const window = z.object({ RATE_LIMIT_WINDOW_S: setting.timerSeconds(1) });
    expect(loadConfiguration(window, { RATE_LIMIT_WINDOW_S: '2147483' })).toEqual({
      RATE_LIMIT_WINDOW_S: 2_147_483,
    });
    expect(() => loadConfiguration(window, { RATE_LIMIT_WINDOW_S: '3000000' })).toThrow(
      'RATE_LIMIT_WINDOW_S: must be at most 2147483 s (~24.8 days, the longest timer)',
    );
  });

  it.each([
    ['REDIS_URL', 'redis://:pw-one@127.0.0.1:notaport'],
    ['REDIS_URL', 'redis://:pw-one@127.0.0.1:99999'],
    ['REDIS_URL', 'redis://:pw-one@'],
    ['MONGODB_URI', 'mongodb://u:pw-one@127.0.0.1:notaport/causeway'],
    ['MONGODB_URI', 'mongodb://u:pw-one@a:27017,b:70000/causeway'],
    // Not percent-encoded: the driver refuses them for good (a review, session 35).
    ['MONGODB_URI', 'mongodb://app:Ab@Cd-pw-one@db:27017/causeway'],
    ['MONGODB_URI', 'mongodb://app:a:b-pw-one@db:27017/causeway'],
    ['MONGODB_URI', 'mongodb://app:100%-pw-one@db:27017/causeway'],
  ])('refuses %s %s, naming the setting and never its value', (name, value) => {
    const urls = z.object({ REDIS_URL: setting.redisUrl(), MONGODB_URI: setting.mongoUri() });
    const env = {
      REDIS_URL: 'redis://:pw@127.0.0.1:6379/2',
      MONGODB_URI: 'mongodb://u:pw@[::1]:27017,b/causeway?replicaSet=rs0',
    };
    expect(loadConfiguration(urls, env)).toEqual(env);
    let error: Error | undefined;
    try {
      loadConfiguration(urls, { ...env, [name]: value });
    } catch (e) {
      error = e as Error;
    }
    expect(error?.message).toMatch(new RegExp(`${name}: must`));
    expect(error?.message).not.toContain('pw-one');
  });

  it.each([
    ['REDIS_URL', 'localhost:6379', 'must be a redis:// or rediss:// URL'],
    ['KAFKA_BROKERS', 'localhost', 'must be a comma-separated list of host:port'],
    ['MONGODB_URI', 'localhost', 'must be a mongodb:// URI that names a database'],
  ])('refuses %s=%s naming one problem, its form', (name, value, problem) => {
    const result = schema.safeParse({ ...valid, [name]: value });
    expect(result.error?.issues.map((issue) => [issue.path, issue.message])).toEqual([
      [[name], problem],
    ]);
  });

  it('names a setting once per problem, even when two rules find it missing', () => {
    // A cross-setting rule that runs even when the base ones failed (see read-models.settings).
    const twice = schema.check(
      z.superRefine<{ REDIS_URL?: unknown }>((config, context) => {
        if (!config.REDIS_URL)
          context.addIssue({ code: 'custom', path: ['REDIS_URL'], message: 'needed here' });
      }, whateverElseFails()),
    );
    const error = (() => {
      try {
        loadConfiguration(twice, { ...valid, REDIS_URL: undefined });
      } catch (caught) {
        return caught as Error;
      }
    })();
    expect(error?.message.match(/REDIS_URL: is required/g)).toHaveLength(1);
  });

  // zod runs an object's check only when nothing before it stopped the parse: a missing setting
  // (or PORT=eighty) hid the cross-setting problem until it was mended, at the next start.
  it.each([
    ['a missing setting', {}, 'REDIS_URL'],
    ['a malformed one', { REDIS_URL: valid.REDIS_URL, PORT: 'eighty' }, 'PORT'],
  ])('runs a whateverElseFails() check along with %s, naming both', (_, env, other) => {
    const modes = z
      .object({
        REDIS_URL: setting.redisUrl(),
        PORT: setting.port(3000),
        MODE: z.string().optional(),
        LIMIT: setting.positiveInt(10),
      })
      .check(
        z.superRefine<{ MODE?: unknown; LIMIT?: unknown }>((config, context) => {
          if (config.MODE === 'strict' && config.LIMIT !== 1)
            context.addIssue({ code: 'custom', path: ['LIMIT'], message: 'must be 1 if strict' });
        }, whateverElseFails()),
      );
    const problems = (() => {
      try {
        loadConfiguration(modes, { ...env, MODE: 'strict' });
      } catch (error) {
        return (error as ConfigurationError).issues.map((issue) => issue.setting);
      }
    })();
    expect(problems).toEqual([other, 'LIMIT']);
  });

  // An unset setting that a cross check blamed was told "is required": HEARTBEAT_MS, which has a
  // default, when CONNECTION_TIMEOUT_MS was set below it; an optional one a check needs.
  it("names a cross check's own problem with an unset setting, not 'is required'", () => {
    const timing = z
      .object({
        HEARTBEAT_MS: setting.milliseconds(30_000),
        CONNECTION_TIMEOUT_MS: setting.milliseconds(300_000),
        STORE: z.enum(['redis', 'mongodb']).default('redis'),
        MONGODB_URI: setting.mongoUri().optional(),
      })
      .check(
        z.superRefine((config, context) => {
          if (config.HEARTBEAT_MS >= config.CONNECTION_TIMEOUT_MS)
            context.addIssue({
              code: 'custom',
              path: ['HEARTBEAT_MS'],
              message: 'must be below CONNECTION_TIMEOUT_MS',
            });
          if (config.STORE === 'mongodb' && config.MONGODB_URI === undefined)
            context.addIssue({
              code: 'custom',
              path: ['MONGODB_URI'],
              message: 'must be set when STORE=mongodb',
            });
        }),
      );
    expect(() =>
      loadConfiguration(timing, { CONNECTION_TIMEOUT_MS: '20000', STORE: 'mongodb' }),
    ).toThrow(
      new ConfigurationError([
        { setting: 'HEARTBEAT_MS', problem: 'must be below CONNECTION_TIMEOUT_MS' },
        { setting: 'MONGODB_URI', problem: 'must be set when STORE=mongodb' },
      ]),
    );
  });

  it('names every missing setting', () => {
    expect(() => loadConfiguration(schema, {})).toThrow(
      new ConfigurationError([
        { setting: 'REDIS_URL', problem: 'is required' },
        { setting: 'KAFKA_BROKERS', problem: 'is required' },
        { setting: 'MONGODB_URI', problem: 'is required' },
      ]),
    );
  });

  it.each([
    ['PORT', 'eighty', 'PORT: must be a TCP port'],
    ['PORT', '70000', 'PORT: must be a TCP port'],
    ['REDIS_URL', 'http://x', 'REDIS_URL: must be a redis://'],
    ['KAFKA_BROKERS', 'localhost', 'KAFKA_BROKERS: must be a comma-separated list of host:port'],
    [
      'KAFKA_BROKERS',
      'kafka:0',
      'KAFKA_BROKERS: must name each broker as host:port, with a port of 1 to 65535',
    ],
    [
      'KAFKA_BROKERS',
      'a:9092,b:99999',
      'KAFKA_BROKERS: must name each broker as host:port, with a port of 1 to 65535',
    ],
    ['SHUTDOWN_TIMEOUT_MS', '3000000000', 'SHUTDOWN_TIMEOUT_MS: must be at most 2147483647 ms'],
    [
      'MONGODB_URI',
      'mongodb://127.0.0.1:37017',
      'MONGODB_URI: must be a mongodb:// URI that names a database',
    ],
    ['LOG_LEVEL', 'loud', 'LOG_LEVEL: must be one of'],
    ['DEBUG_SQL', 'yes', 'DEBUG_SQL: must be true or false'],
  ])('names a malformed %s', (key, value, message) => {
    expect(() => loadConfiguration(schema, { ...valid, [key]: value })).toThrow(message);
  });

  it('never echoes a value, which may be a secret', () => {
    // The throw is outside the try: inside, its own error was caught and passed the check, so
    // the test passed also when the value was not refused at all.
    const refused = (() => {
      try {
        loadConfiguration(schema, { ...valid, REDIS_URL: 'http://user:s3cret@host' });
      } catch (error) {
        return error;
      }
      throw new Error('expected a ConfigurationError');
    })();
    expect(refused).toBeInstanceOf(ConfigurationError);
    expect((refused as Error).message).toMatch(/REDIS_URL: must/);
    expect((refused as Error).message).not.toContain('s3cret');
  });
});

describe('connectionSettings', () => {
  const schema = z.object({
    ...connectionSettings.redis,
    ...connectionSettings.kafka,
    ...connectionSettings.mongodb,
  });

  it('defaults pool sizes and timeouts', () => {
    expect(loadConfiguration(schema, {})).toEqual({
      REDIS_CONNECT_TIMEOUT_MS: 5_000,
      REDIS_COMMAND_TIMEOUT_MS: 1_000,
      REDIS_SILENCE_TIMEOUT_MS: 10_000,
      KAFKA_REQUEST_TIMEOUT_MS: 10_000,
      MONGODB_POOL_SIZE: 20,
      MONGODB_TIMEOUT_MS: 5_000,
      MONGODB_SILENCE_TIMEOUT_MS: 10_000,
    });
  });

  it('names a bad pool size or timeout', () => {
    expect(() => loadConfiguration(schema, { MONGODB_POOL_SIZE: '0' })).toThrow(
      'MONGODB_POOL_SIZE: must be a positive integer',
    );
    expect(() => loadConfiguration(schema, { REDIS_COMMAND_TIMEOUT_MS: '0' })).toThrow(
      'REDIS_COMMAND_TIMEOUT_MS: must be at least 1 ms',
    );
    // 0 turns the silence timeout off; a negative one is refused.
    expect(loadConfiguration(schema, { REDIS_SILENCE_TIMEOUT_MS: '0' })).toMatchObject({
      REDIS_SILENCE_TIMEOUT_MS: 0,
    });
    expect(() => loadConfiguration(schema, { REDIS_SILENCE_TIMEOUT_MS: '-1' })).toThrow(
      'REDIS_SILENCE_TIMEOUT_MS: must not be negative',
    );
    expect(() => loadConfiguration(schema, { KAFKA_REQUEST_TIMEOUT_MS: 'soon' })).toThrow(
      'KAFKA_REQUEST_TIMEOUT_MS: must be a duration in milliseconds',
    );
  });
});
