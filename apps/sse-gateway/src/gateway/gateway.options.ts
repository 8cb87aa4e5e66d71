import { type AdminRefused } from '@causeway/cqrs-core/nest';
import {
  type GroupMembers,
  type NotificationLog,
  type ProgressStatuses,
  type TokenRevocations,
  type TokenService,
  type TrainerPositions,
  type TrustedProxies,
} from '@causeway/platform';
import { type RateLimiterAbstract } from 'rate-limiter-flexible';
import { type GatewayControl } from '../control/gateway-control.port';
import { type PresenceRegistry } from '../presence/presence-registry.port';
import { type GatewaySettings } from './gateway.settings';

/** Everything the SSE gateway feature needs; the app (or the embedded mode) picks the adapters. */
export interface GatewayModuleOptions {
  /** This instance's id: in `session` frames, presence and connection events. */
  serverId: string;
  /**
   * The server's clock (epoch ms), told to clients as `serverTime` in `session` frames: a
   * ServerClock over Redis, whose time notification ids and command stamps carry. Also the
   * clock of a resume's history age (HISTORY_TTL_MS) and of a revocation's cut (`revokedUntil`).
   * Default: this host's clock.
   */
  serverTime?: () => number;
  /**
   * Whether `serverTime` can be told yet (a ServerClock's `synchronised`): until then `/events`
   * answers 503 `clock-unsynchronised`. Default: always.
   */
  serverTimeReady?: () => boolean;
  tokens: TokenService;
  notifications: NotificationLog;
  positions: TrainerPositions;
  groups: GroupMembers;
  presence: PresenceRegistry;
  /**
   * The tasks' current progress (ADR 015), written by order-processor: the `recovery` events of
   * GET /api/v2/progress/subscribe and its 404 for another user's task. The
   * embedded mode gives the InMemoryProgressStatuses its OrderProcessorModule writes. Default:
   * an InMemoryProgressStatuses of this process (nothing writes it unless the app does).
   */
  progress?: ProgressStatuses;
  /**
   * The hub's tunables over DEFAULT_GATEWAY_SETTINGS. Each a whole positive number (the timers'
   * at most 2147483647 ms), and `heartbeatMs` below `connectionTimeoutMs` (as HEARTBEAT_MS below
   * CONNECTION_TIMEOUT_MS): `forRoot` throws a RangeError naming the setting otherwise
   * (checkGatewaySettings).
   */
  settings?: Partial<GatewaySettings>;
  /**
   * A bearer token (ADMIN_TOKEN) that sees every instance's presence and may disconnect users;
   * omit to disable both.
   */
  adminToken?: string;
  /**
   * Called before the 401 of a request to an admin-token endpoint (the disconnect order, the
   * presence of everyone) that failed the token: give it the app's `adminRefusals`, so guesses
   * here use up the same ADMIN_REFUSALS as /admin/dead-letters (429 beyond). Default: the
   * caller rate limit (RATE_LIMIT_POINTS), as any refused credential.
   */
  adminRefused?: AdminRefused;
  /**
   * The channel every instance hears operators' orders on (RedisGatewayControl when there are
   * several instances). Default: one of this process only (InMemoryGatewayControl).
   */
  control?: GatewayControl;
  /**
   * The revocations `tokens` checks (give it the same instance): `POST
   * /api/presence/{userId}/disconnect` with `"revoke": true` writes to it, and the module starts
   * and closes it (readiness probe `token-revocations` until it is loaded). Omit when tokens are
   * not revocable: such a request is then a 409.
   */
  revocations?: TokenRevocations;
  /**
   * Publish ConnectionEstablishedEvent / ConnectionClosedEvent on the global EventBus when the
   * app has one (CqrsCoreModule). Best effort: never delays a connection. Default true.
   */
  connectionEvents?: boolean;
  /**
   * The rate of each caller of /api/* and GET /events (see CallerGate): a point a request, keyed
   * `user:<id>` or `ip:<address>`. Omit for no limit.
   */
  rateLimiter?: RateLimiterAbstract;
  /**
   * The proxies whose X-Forwarded-For names the client address a caller without a valid
   * credential is limited by (TRUST_PROXY). Omit to trust none: the connection's peer.
   */
  trustedProxies?: TrustedProxies;
}

export const GATEWAY_OPTIONS = Symbol('causeway:gateway-options');
