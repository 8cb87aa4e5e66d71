import { setting, whenValid } from '@causeway/cqrs-core';
import { z } from 'zod';

/** Tunables of the SSE hub (S0-9 defaults); the app maps them from its validated config. */
export interface GatewaySettings {
  /** A comment line to every connection this often, so proxies keep the stream open. */
  heartbeatMs: number;
  /** A connection is closed (with a `retry:` hint) after this long; the client reconnects. */
  connectionTimeoutMs: number;
  /** Open connections per instance; beyond it, 503 + Retry-After. */
  maxConnections: number;
  /** Open connections per user on one instance; beyond it, 429 + Retry-After. */
  maxConnectionsPerUser: number;
  /** Unwritten bytes a connection may hold before it is dropped as a slow client. */
  bufferMaxBytes: number;
  /**
   * A connection whose unwritten bytes have not emptied for this long is dropped as a slow
   * client, however few they are: node buffers nothing until the kernel's send buffer (hundreds
   * of KB to a few MB per socket, not settable from node) is full, so a client that stopped
   * reading reaches `bufferMaxBytes` late or never. Checked every quarter of it.
   */
  stallTimeoutMs: number;
  /** At most this many missed notifications addressed to a user are replayed, else recovery. */
  historySize: number;
  /**
   * At most this many entries of a resume's gap are read, addressed to anyone (a resume filters
   * the log): beyond it, recovery. Bounds what one reconnect costs the gateway.
   */
  historyScanLimit: number;
  /** Missed notifications older than this are not replayed: the resume gets recovery. */
  historyTtlMs: number;
  /**
   * `GET /api/positions` and `recovery` show the trainers that moved this recently (by the
   * server's clock): what they cost follows the trainers active lately, not every trainer that
   * ever moved.
   */
  positionsMaxAgeMs: number;
  /** The `retry:` hint (ms) sent to clients; shutdown adds up to the same again as jitter. */
  retryMs: number;
  /** Retry-After (seconds) of 503 / 429. */
  retryAfterSeconds: number;
}

export const DEFAULT_GATEWAY_SETTINGS: GatewaySettings = {
  heartbeatMs: 30_000,
  connectionTimeoutMs: 300_000,
  maxConnections: 10_000,
  maxConnectionsPerUser: 10,
  bufferMaxBytes: 1024 * 1024,
  stallTimeoutMs: 30_000,
  historySize: 500,
  historyScanLimit: 2_000,
  historyTtlMs: 10 * 60_000,
  positionsMaxAgeMs: 24 * 3_600_000,
  retryMs: 2_000,
  retryAfterSeconds: 5,
};

/** How long a task's progress is kept (PROGRESS_HISTORY_TTL_MS, S3-7): 24 h. */
export const DEFAULT_PROGRESS_HISTORY_TTL_MS = 86_400_000;

/**
 * The settings check (sse-gateway's and the embedded app's): HEARTBEAT_MS below
 * CONNECTION_TIMEOUT_MS. Otherwise a stream ends before its first heartbeat: a proxy with an
 * idle timeout cuts it, and a client watching for heartbeats (`?heartbeat=event`) never sees one.
 */
export const heartbeatBelowConnectionTimeout = z.superRefine<{
  HEARTBEAT_MS?: unknown;
  CONNECTION_TIMEOUT_MS?: unknown;
}>(
  (config, ctx) => {
    const { HEARTBEAT_MS: heartbeat, CONNECTION_TIMEOUT_MS: timeout } = config;
    if (typeof heartbeat === 'number' && typeof timeout === 'number' && heartbeat >= timeout)
      ctx.addIssue({
        code: 'custom',
        path: ['HEARTBEAT_MS'],
        message: `must be below CONNECTION_TIMEOUT_MS (${timeout} ms), or a stream ends before its first heartbeat`,
      });
  },
  // Compared once both are valid (whatever else failed): CONNECTION_TIMEOUT_MS=1.5 was named, then
  // HEARTBEAT_MS blamed for being above it.
  whenValid('HEARTBEAT_MS', 'CONNECTION_TIMEOUT_MS'),
);

/**
 * What each setting must be, by the apps' config's own checks (HEARTBEAT_MS, MAX_CONNECTIONS, …)
 * with their bounds' messages, at least 1 whatever the app's minimum (a test, a bench beat
 * faster): the timers' at most MAX_TIMER_MS (a longer one fires after 1 ms), the ages (compared
 * with times, never a timer) not. The fallbacks are never used: DEFAULT_GATEWAY_SETTINGS fills in.
 */
const SETTING_CHECKS: Record<keyof GatewaySettings, z.ZodType<number, unknown>> = {
  heartbeatMs: setting.milliseconds(DEFAULT_GATEWAY_SETTINGS.heartbeatMs),
  connectionTimeoutMs: setting.milliseconds(DEFAULT_GATEWAY_SETTINGS.connectionTimeoutMs),
  maxConnections: setting.positiveInt(DEFAULT_GATEWAY_SETTINGS.maxConnections),
  maxConnectionsPerUser: setting.positiveInt(DEFAULT_GATEWAY_SETTINGS.maxConnectionsPerUser),
  bufferMaxBytes: setting.positiveInt(DEFAULT_GATEWAY_SETTINGS.bufferMaxBytes),
  stallTimeoutMs: setting.milliseconds(DEFAULT_GATEWAY_SETTINGS.stallTimeoutMs),
  historySize: setting.positiveInt(DEFAULT_GATEWAY_SETTINGS.historySize),
  historyScanLimit: setting.positiveInt(DEFAULT_GATEWAY_SETTINGS.historyScanLimit),
  historyTtlMs: setting.age(DEFAULT_GATEWAY_SETTINGS.historyTtlMs),
  positionsMaxAgeMs: setting.age(DEFAULT_GATEWAY_SETTINGS.positionsMaxAgeMs),
  retryMs: setting.milliseconds(DEFAULT_GATEWAY_SETTINGS.retryMs),
  retryAfterSeconds: setting.positiveInt(DEFAULT_GATEWAY_SETTINGS.retryAfterSeconds),
};

/**
 * GatewayModule's check of the settings it is given, for a caller that builds them itself (the
 * embedded mode from its own config, a bench, a test): each a number the apps' config would
 * take (SETTING_CHECKS: a NaN, 0, negative or fractional one passed, and the hub ran with it —
 * a NaN maxConnections refused no stream, a 0 heartbeatMs beat every millisecond), then what
 * the config refuses as HEARTBEAT_MS ≥ CONNECTION_TIMEOUT_MS (heartbeatBelowConnectionTimeout):
 * a stream would end before its first heartbeat.
 * @throws RangeError naming the setting and the value given
 */
export function checkGatewaySettings(settings: GatewaySettings): GatewaySettings {
  for (const [name, check] of Object.entries(SETTING_CHECKS)) {
    const value: unknown = settings[name as keyof GatewaySettings];
    // A number only (null is refused with the check's own message): decimal text would be
    // read as one (the env's form), and undefined as the default, though neither was given.
    const result = check.safeParse(typeof value === 'number' ? value : null);
    if (!result.success)
      throw new RangeError(
        `GatewayModule: settings.${name} ${result.error.issues[0]?.message ?? 'is invalid'}, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`,
      );
  }
  const { heartbeatMs, connectionTimeoutMs } = settings;
  if (heartbeatMs >= connectionTimeoutMs)
    throw new RangeError(
      `GatewayModule: settings.heartbeatMs (${heartbeatMs} ms) must be below settings.connectionTimeoutMs (${connectionTimeoutMs} ms), or a stream ends before its first heartbeat`,
    );
  return settings;
}
