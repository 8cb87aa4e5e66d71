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
  { when: () => true },
);

/**
 * GatewayModule's check of the settings it is given: what the apps' config refuses as
 * HEARTBEAT_MS ≥ CONNECTION_TIMEOUT_MS (heartbeatBelowConnectionTimeout), for a caller that
 * builds them itself (the embedded mode from its own config, a bench, a test). A stream would
 * end before its first heartbeat.
 * @throws RangeError naming the settings
 */
export function checkGatewaySettings(settings: GatewaySettings): GatewaySettings {
  const { heartbeatMs, connectionTimeoutMs } = settings;
  if (heartbeatMs >= connectionTimeoutMs)
    throw new RangeError(
      `GatewayModule: settings.heartbeatMs (${heartbeatMs} ms) must be below settings.connectionTimeoutMs (${connectionTimeoutMs} ms), or a stream ends before its first heartbeat`,
    );
  return settings;
}
