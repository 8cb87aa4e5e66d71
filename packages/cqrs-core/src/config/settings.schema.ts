import { z } from 'zod';

/** The longest delay Node's timers keep (2^31 - 1 ms); a longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

// Whole numbers are checked with Number.isInteger, not zod's int(): int() also refuses the whole
// numbers beyond 2^53 - 1, so such a value was told "must be a positive integer" (untrue) beside
// the bound it exceeds. The bounds name themselves.

/**
 * A bound of a whole-number setting, checked of whole numbers only: a fraction is named as one
 * by the check before it, and not again for its sign or size (`1.5` with a minimum of 300 ms was
 * told both). Not `abort: true` on the whole-number check: that would also stop the
 * cross-setting checks of the schema holding the setting, which name the other problems.
 */
export function ofWhole(bound: (value: number) => boolean): (value: number) => boolean {
  return (value) => !Number.isInteger(value) || bound(value);
}

/**
 * A number setting as written in decimal (`45000`, `1.5`, `-1`, spaces around ignored): any
 * other text — `0x10`, `45e3`, `Infinity`, `1_000` — reaches `schema` as text and is refused with its message,
 * rather than read as a number no operator meant. Wrap a `z.number()` chain.
 */
export function decimal<T extends z.ZodType<number>>(schema: T) {
  return z.preprocess(
    (value) =>
      typeof value === 'string' && DECIMAL.test(value.trim()) ? Number(value.trim()) : value,
    schema,
  );
}

/** How wholeNumber is bounded and named (a string: the `field` alone). */
export interface WholeNumberOptions {
  /** Starts every message, for a number inside a setting's value (ORDER_CATALOG's `stock`). */
  field?: string;
  /** The largest value taken, a whole number up to Number.MAX_SAFE_INTEGER (the default). */
  max?: number;
  /** What a value above `max` is told; default `must be at most <max>`. Say why when you can. */
  maxMessage?: string;
}

/**
 * A whole number from 0 to `max` (at most 2^53 - 1, Number.MAX_SAFE_INTEGER), each way out of
 * range named: a count, an amount, a limit. `what` is what a value that is no whole number is
 * told it must be ("a whole number of cents"); `options` give the field its messages start with
 * and the bound (a string is the field, as before). A fraction is named as one, never also for
 * its sign or size. Wrap it in `decimal()` for a setting of its own.
 * @throws RangeError when `max` is no whole number from 0 to 2^53 - 1 (a mistake of the schema)
 */
export function wholeNumber(
  what = 'a non-negative integer',
  options: string | WholeNumberOptions = {},
) {
  const {
    field,
    max = Number.MAX_SAFE_INTEGER,
    maxMessage,
  } = typeof options === 'string' ? { field: options } : options;
  if (!Number.isSafeInteger(max) || max < 0)
    throw new RangeError(`wholeNumber: max must be a whole number from 0 to 2^53 - 1, got ${max}`);
  const said = (message: string) => (field === undefined ? message : `${field} ${message}`);
  return z
    .number({ message: said(`must be ${what}`) })
    .refine(Number.isInteger, said(`must be ${what}`))
    .refine(
      ofWhole((value) => value >= 0),
      said('must not be negative'),
    )
    .refine(
      ofWhole((value) => value <= max),
      said(maxMessage ?? `must be at most ${max}`),
    );
}

function age(min: number) {
  return decimal(
    z
      .number({ message: 'must be a duration in milliseconds' })
      .refine(Number.isInteger, 'must be a duration in whole milliseconds')
      .refine(
        ofWhole((value) => value >= min),
        min === 0 ? 'must not be negative' : `must be at least ${min} ms`,
      )
      .max(Number.MAX_SAFE_INTEGER, 'must be at most 9007199254740991 ms'),
  );
}

function positiveInt(fallback: number, max?: number, maxMessage?: string) {
  return decimal(
    z
      .number({ message: 'must be a positive integer' })
      .refine(Number.isInteger, 'must be a positive integer')
      .min(1, 'must be a positive integer')
      .max(
        max ?? Number.MAX_SAFE_INTEGER,
        maxMessage ?? `must be at most ${max ?? Number.MAX_SAFE_INTEGER}`,
      ),
  ).default(fallback);
}

/**
 * A cross-setting check's `when` (`z.superRefine(check, whenValid('A_MS', 'B_MS'))`): it runs when
 * none of `settings` has a problem of its own, whatever else failed, so that the error names every
 * problem at once, and never compares a value already refused (which would name it twice).
 */
export function whenValid(...settings: string[]) {
  return {
    when: (payload: { issues: readonly { path?: readonly PropertyKey[] }[] }) =>
      !payload.issues.some((issue) => settings.includes(String(issue.path?.[0]))),
  };
}

/**
 * A cross-setting check's `when` (`z.superRefine(check, whateverElseFails())`): it runs whatever
 * else failed, missing settings included, so that the error names its problem with every other.
 * Without a `when`, zod runs an object's check only when no problem before it stops the parse,
 * and a missing setting, a value of the wrong form (`PORT=eighty`) or one outside an enum does:
 * the check's problem showed only once those were mended, at the next start. The check gets the
 * values as given (a refused one too, or undefined): it reads them as `unknown` and compares only
 * those of the type it needs. When it compares values that must have passed their own checks,
 * use whenValid.
 */
export function whateverElseFails() {
  return { when: () => true };
}

/**
 * A check of a value that passed the checks before it (a URL's parts once it is a URL): one
 * problem per setting, its first. Not `abort: true`, which stops the cross-setting checks of
 * the whole configuration too, so a malformed REDIS_URL hid every other problem of them.
 */
const once = { when: (payload: { issues: readonly unknown[] }) => payload.issues.length === 0 };

/** Building blocks for app configuration schemas; every app composes the ones it needs. */
export const setting = {
  port: (fallback: number) =>
    decimal(
      z
        .number({ message: 'must be a TCP port (1-65535)' })
        // Its own message: a bare int() said it only through zod falling back to the schema's.
        .refine(Number.isInteger, 'must be a TCP port (1-65535)')
        .min(1, 'must be a TCP port (1-65535)')
        .max(65535, 'must be a TCP port (1-65535)'),
    ).default(fallback),
  /**
   * A duration in whole milliseconds, at least `min` (default 1: a timeout, period or TTL of 0
   * makes every call time out, a loop spin, or Redis refuse the TTL) and at most MAX_TIMER_MS:
   * Node fires a timer set longer after 1 ms, so a timeout meant as "never" would fire at once.
   * `minMessage` says why the minimum is what it is.
   */
  milliseconds: (fallback: number, min = 1, minMessage?: string) =>
    decimal(
      z
        .number({ message: 'must be a duration in milliseconds' })
        .refine(Number.isInteger, 'must be a duration in whole milliseconds')
        .refine(
          ofWhole((value) => value >= min),
          minMessage ?? (min === 0 ? 'must not be negative' : `must be at least ${min} ms`),
        )
        .refine(
          ofWhole((value) => value <= MAX_TIMER_MS),
          `must be at most ${MAX_TIMER_MS} ms (~24.8 days, the longest timer)`,
        ),
    ).default(fallback),
  /**
   * An age in whole milliseconds (a retention, a horizon, a TTL Redis keeps), at least `min`:
   * compared with times or handed to Redis, never a timer, so not bounded by MAX_TIMER_MS.
   */
  age: (fallback: number, min = 1) => age(min).default(fallback),
  /** An `age` with no default: undefined when not set (its default depends on other settings). */
  optionalAge: (min = 1) => age(min).optional(),
  /** A positive whole number, at most `max` when given (`maxMessage` says why). */
  positiveInt,
  /**
   * Whole seconds a process timer waits (an in-process rate-limit window): at most
   * MAX_TIMER_MS / 1000, as a longer timer fires after 1 ms.
   */
  timerSeconds: (fallback: number) =>
    positiveInt(
      fallback,
      Math.floor(MAX_TIMER_MS / 1000),
      `must be at most ${Math.floor(MAX_TIMER_MS / 1000)} s (~24.8 days, the longest timer)`,
    ),
  boolean: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0'], { message: 'must be true or false' })
      .default(fallback ? 'true' : 'false')
      .transform((value) => value === 'true' || value === '1'),
  redisUrl: () =>
    z
      .string({ message: 'is required' })
      .regex(/^rediss?:\/\/.+/, 'must be a redis:// or rediss:// URL')
      // Else Node warns quoting the whole URL, password included (DEP0170), and ioredis
      // connects to port 6379 whatever the URL says.
      .refine(hasHostAndPort, {
        message: 'must be a redis:// or rediss:// URL with a host and a port of 1 to 65535',
        ...once,
      }),
  mongoUri: () =>
    z
      .string({ message: 'is required' })
      .regex(/^mongodb(\+srv)?:\/\/[^/]+\/[^/?]+/, {
        message: 'must be a mongodb:// URI that names a database',
      })
      .refine(
        (uri) =>
          uri.split('//', 2)[1]!.split('/', 1)[0]!.replace(/^.*@/, '').split(',').every(isHostPort),
        { message: 'must name each host as host or host:port, with a port of 1 to 65535', ...once },
      )
      // The driver refuses them for good (the app would retry for ever, never ready).
      .refine(hasEncodedUserInfo, {
        message: 'must percent-encode its user name and password (: / ? # [ ] @ and % in them)',
        ...once,
      }),
  kafkaBrokers: () =>
    z
      .string({ message: 'is required' })
      .regex(/^[^\s,:]+:\d+(,[^\s,:]+:\d+)*$/, {
        message: 'must be a comma-separated list of host:port',
      })
      .refine((value) => value.split(',').every(isHostPort), {
        message: 'must name each broker as host:port, with a port of 1 to 65535',
        ...once,
      })
      .transform((value) => value.split(',')),
  logLevel: () =>
    z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        message: 'must be one of fatal, error, warn, info, debug, trace, silent',
      })
      .default('info'),
};

/**
 * The share of SHUTDOWN_TIMEOUT_MS a service gives its subscriptions' close (the platform's
 * subscriptionCloseTimeoutMs): they then write what finished and hand their partitions over; the
 * rest of the budget closes what comes after them (stores, connections).
 */
export const SUBSCRIPTION_CLOSE_SHARE = 0.75;

/** The least a subscription's close waits for the handlers still running. */
export const MIN_SUBSCRIPTION_CLOSE_MS = 500;

/**
 * The shortest SHUTDOWN_TIMEOUT_MS whose share for the subscriptions' close
 * (SUBSCRIPTION_CLOSE_SHARE, three quarters) holds `closeMs`: MIN_SUBSCRIPTION_CLOSE_MS, or a
 * close's fixed grace (a Kafka subscriber's CLOSE_GRACE_MS).
 */
export function minShutdownTimeoutMs(closeMs: number): number {
  return Math.ceil((closeMs * 4) / 3); // SUBSCRIPTION_CLOSE_SHARE, in whole numbers
}

const MIN_SHUTDOWN_TIMEOUT_MS = minShutdownTimeoutMs(MIN_SUBSCRIPTION_CLOSE_MS);

/** Settings every Causeway service has. */
export const serviceSettings = {
  HOST: z.string().default('127.0.0.1'),
  LOG_LEVEL: setting.logLevel(),
  /** Distinguishes instances of one service (consumer names, presence, serverId). */
  INSTANCE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/, 'may contain only letters, digits, ".", "_" and "-"')
    .optional(),
  /**
   * How long a graceful stop may take. At least 667 ms: three quarters of it go to closing the
   * subscriptions, which wait at least MIN_SUBSCRIPTION_CLOSE_MS for their handlers (a shorter
   * budget was outlasted by that wait alone, and what closes after it was cut off).
   */
  SHUTDOWN_TIMEOUT_MS: setting.milliseconds(
    10_000,
    MIN_SHUTDOWN_TIMEOUT_MS,
    `must be at least ${MIN_SHUTDOWN_TIMEOUT_MS} ms: three quarters of it go to closing the ` +
      `subscriptions, which wait at least ${MIN_SUBSCRIPTION_CLOSE_MS} ms for the handlers still running`,
  ),
  /**
   * How long an idle keep-alive HTTP connection stays open (Node's own default is 5 s). Longer
   * than the idle timeout of the load balancer or proxy in front (AWS ALB and nginx: 60 s), or
   * the proxy sends a request on a connection the app is closing at that moment, and the client
   * gets a 502 or a reset.
   */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: setting.milliseconds(65_000, 1_000),
};

/** Client-manager settings per server; apps spread the ones of the servers they use. */
export const connectionSettings = {
  redis: {
    REDIS_CONNECT_TIMEOUT_MS: setting.milliseconds(5_000),
    /**
     * A Redis command without a reply this long fails, also while the connection is being
     * re-established: a partitioned or hung Redis gives errors (e.g. 503s) instead of requests
     * that wait for ever. Blocking reads have their own bound (BLOCK).
     */
    REDIS_COMMAND_TIMEOUT_MS: setting.milliseconds(1_000),
    /**
     * A Redis connection with a command waiting that hears nothing from Redis this long is
     * presumed dead and replaced: a network path gone without a reset (a peer lost, a NAT or
     * load balancer that forgot the connection) otherwise leaves it dead for 15 minutes to
     * hours, every command timing out. Blocking reads are allowed their BLOCK on top; pub/sub
     * connections send a PING this often. 0 turns it off.
     */
    REDIS_SILENCE_TIMEOUT_MS: setting.milliseconds(10_000, 0),
  },
  kafka: { KAFKA_REQUEST_TIMEOUT_MS: setting.milliseconds(10_000) },
  mongodb: {
    MONGODB_POOL_SIZE: setting.positiveInt(20),
    MONGODB_TIMEOUT_MS: setting.milliseconds(5_000),
    /**
     * The driver's monitor check (and a new connection's handshake) unanswered this long marks
     * MongoDB unreachable and interrupts the operations waiting on its connections: a network
     * path gone without a reset is noticed within a heartbeat (10 s) plus this, not after the
     * kernel gives up. 0 turns it off.
     */
    MONGODB_SILENCE_TIMEOUT_MS: setting.milliseconds(10_000, 0),
  },
};

/** Whether a URL has a host and, if it names one, a port of 1 to 65535. Never echoes it. */
function hasHostAndPort(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value); // throws on a port that is not a number up to 65535
  } catch {
    return false;
  }
  return url.hostname !== '' && url.port !== '0';
}

/**
 * Whether a mongodb:// URI's user name and password (before the last `@` of its hosts) are
 * percent-encoded as the driver requires: no `@ / ? # [ ]`, one `:` between them, every `%`
 * an escape.
 */
function hasEncodedUserInfo(uri: string): boolean {
  const authority = uri.split('//', 2)[1]!.split('/', 1)[0]!;
  const at = authority.lastIndexOf('@');
  if (at < 0) return true;
  const userInfo = authority.slice(0, at);
  return (
    !/[@/?#[\]]/.test(userInfo) &&
    userInfo.split(':').length <= 2 &&
    !/%(?![0-9a-fA-F]{2})/.test(userInfo)
  );
}

/** `host` or `host:port` (a port of 1 to 65535; an IPv6 host in brackets). */
function isHostPort(value: string): boolean {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(value);
  if (!match) return false;
  return match[2] === undefined || (Number(match[2]) >= 1 && Number(match[2]) <= 65_535);
}
