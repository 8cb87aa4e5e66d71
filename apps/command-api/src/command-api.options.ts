import { type AdminRefused } from '@causeway/cqrs-core/nest';
import {
  type CommandStatusStore,
  type TokenRevocations,
  type TokenService,
  type TrustedProxies,
} from '@causeway/platform';
import { type RateLimiterAbstract } from 'rate-limiter-flexible';
import { type CommandBacklog } from './commands/command.backlog';
import { type IdempotencyStore } from './idempotency/idempotency-store.port';
import { type OrderIntakeOptions } from './orders/order.intake';

/** The ports and settings of the command API feature module. */
export interface CommandApiOptions {
  /** This instance; stamped on every command as `metadata.acceptedBy` and in logs. */
  serverId: string;
  /** Verifies `Authorization: Bearer` tokens (and issues dev tokens). */
  tokens: TokenService;
  /**
   * The revocations `tokens` checks (give it the same instance): the module starts and closes
   * it, with the readiness probe `token-revocations`. Omit when tokens are not revocable, or
   * when another module of the app keeps the same instance loaded (the embedded mode: the
   * gateway's).
   */
  revocations?: TokenRevocations;
  commandStatus: CommandStatusStore;
  idempotency: IdempotencyStore;
  /** Requests per caller (user id; client IP when unauthenticated). */
  rateLimiter: RateLimiterAbstract;
  /**
   * Proxies whose X-Forwarded-For names the client an unauthenticated request is rate limited
   * as. Default: none — the connection's peer.
   */
  trustedProxies?: TrustedProxies;
  /**
   * The operators' token (ADMIN_TOKEN): `GET /admin/commands/{commandId}` answers any user's
   * command status to it. Without one that route answers 401 to everyone.
   */
  adminToken?: string;
  /**
   * Told of each `GET /admin/commands/{commandId}` refused for want of the admin token, before
   * its 401: give it the app's `adminRefusals` (the same counts as `/admin/dead-letters`, so a
   * guesser gets ADMIN_REFUSALS in all, not that many per endpoint). Default: an `adminRefusals`
   * of this module's own, counted in this process.
   */
  adminRefused?: AdminRefused;
  /** POST /api/dev/tokens issues tokens to anyone: development and demos only. */
  devTokens: boolean;
  /** Largest accepted request body. Default 16 KiB. */
  maxBodyBytes?: number;
  /** How long an Idempotency-Key's answer is kept. Default 24 h. */
  idempotencyTtlMs?: number;
  /**
   * A move must be handled within this many milliseconds of being accepted (its
   * `metadata.timestamp`), or it is rejected as expired instead of applied late
   * (COMMAND_DEADLINE_MS; `metadata.deadline`, see CommandBus SendOptions.deadlineMs). 0: no
   * deadline. Default 60 000. Group changes carry none: joining late surprises nobody.
   */
  commandDeadlineMs?: number;
  /**
   * Refuses commands (503 `overloaded`, nothing sent) while more than its `max` wait for their
   * handler in the command's topic (COMMAND_BACKLOG_MAX). Omit to accept every command.
   */
  backlog?: CommandBacklog;
  /**
   * The clock commands are stamped with (their acceptance time, from which trainer-service
   * computes the movement, and their deadline): give every instance the same one, a
   * ServerClock over Redis. Default: this host's clock.
   */
  clock?: { now(): number };
  /**
   * Where `POST /api/v2/progress/orders` publishes orders (ADR 015): Kafka's publisher in the
   * standalone app, the in-memory broker in the embedded mode. Give it only where an order
   * consumer reads that topic. Omit and the route is not served (404, as any unknown path) nor
   * listed in the OpenAPI document (the demo page then hides its Orders panel).
   */
  orders?: OrderIntakeOptions;
}

export const COMMAND_API_OPTIONS = Symbol('causeway:command-api-options');
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024;
export const DEFAULT_COMMAND_DEADLINE_MS = 60_000;
