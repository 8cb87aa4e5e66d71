import { type RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import { addressBucket } from '../http/client-address.bucket';
import { TrustedProxies } from '../http/trusted.proxies';
import { type Caller } from './token.service';

export interface CallerGateOptions {
  /** The counters (RATE_LIMIT_POINTS per RATE_LIMIT_WINDOW_S). None: every caller is within. */
  limiter?: RateLimiterAbstract;
  /** Whose `X-Forwarded-For` names the client (TRUST_PROXY). Default: no one's. */
  proxies?: TrustedProxies;
  /** The error a caller beyond their rate gets (the app's 429). */
  limited(retryAfterSeconds: number): Error;
  /** Whether an error of `authenticate` refuses the credential (the app's 401). */
  refused(error: unknown): boolean;
  /**
   * Told when the limiter's store fails and requests are let through: at the first failure,
   * then at most once per `warnEveryMs` while it keeps failing (with the count let through).
   */
  warn(message: string): void;
  /** Told once when the store answers again after failing. Default: `warn`. */
  info?(message: string): void;
  /** The least time between two "still unavailable" warnings of one outage. Default 60 s. */
  warnEveryMs?: number;
  /** The clock of those warnings (epoch ms). Default Date.now. */
  now?: () => number;
}

/** The limiter's store failing: since when, and the requests let through unlimited. */
interface Outage {
  since: number;
  letThrough: number;
  /** Let through since the last warning. */
  unreported: number;
  reportedAt: number;
}

/**
 * The door of an app's endpoints: who is calling, and whether they are within their rate. A
 * request costs one point, counted per user id, or per client address when the credential is
 * missing or invalid — so a flood of bad credentials is throttled too (429 before 401). Each
 * app has its own counters (its limiter's key prefix), shared by its instances.
 *
 * The client address is the connection's peer, or behind a proxy trusted with TRUST_PROXY the
 * address it forwarded (see TrustedProxies); an IPv6 one counts as its /56 network
 * (addressBucket). Without a trusted proxy every client behind a proxy shares the
 * proxy's address, and one client's flood throttles every unauthenticated caller.
 *
 * When the limiter's store is down the gate fails open: it serves rather than refusing everyone,
 * and says so once per outage (then at most once per `warnEveryMs`, and once when it is back),
 * not once per request: an outage must not flood the logs.
 */
/** What the gate reads of a request: `node:http`'s IncomingMessage has it. */
export interface GateRequest {
  headers: Record<string, string | string[] | undefined>;
  socket: { remoteAddress?: string };
}

export class CallerGate {
  private readonly proxies: TrustedProxies;
  private outage?: Outage;

  constructor(private readonly options: CallerGateOptions) {
    this.proxies = options.proxies ?? TrustedProxies.none;
  }

  /**
   * The caller `authenticate` finds, charged one point to their user id; when it refuses the
   * credential (see `refused`), one point to the client's address, then that refusal.
   * @throws the `limited` error beyond the caller's rate, whatever the credential
   */
  async admit(request: GateRequest, authenticate: () => Promise<Caller>): Promise<Caller> {
    let caller: Caller;
    try {
      caller = await authenticate();
    } catch (error) {
      if (this.options.refused(error)) await this.charge(this.addressKey(request));
      throw error;
    }
    await this.charge(userKey(caller));
    return caller;
  }

  /**
   * Charges `points` to `key` (see userKey, addressKey); a JSON-RPC batch, say, must not buy many
   * commands for the price of one request.
   * @throws the `limited` error when that goes beyond its rate
   */
  async charge(key: string, points = 1): Promise<void> {
    if (!this.options.limiter || points <= 0) return;
    try {
      await this.options.limiter.consume(key, points);
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) return this.letThrough(error);
      this.answered();
      throw this.options.limited(Math.max(1, Math.ceil(error.msBeforeNext / 1000)));
    }
    this.answered();
  }

  /** The store failed: the request goes through; warned at the first, then now and then. */
  private letThrough(error: unknown): void {
    const now = (this.options.now ?? Date.now)();
    const reason = (error as Error)?.message ?? String(error);
    const outage = this.outage;
    if (!outage) {
      this.outage = { since: now, letThrough: 1, unreported: 0, reportedAt: now };
      this.options.warn(
        `rate limiter unavailable, requests let through until it answers again: ${reason}`,
      );
      return;
    }
    outage.letThrough++;
    outage.unreported++;
    if (now - outage.reportedAt < (this.options.warnEveryMs ?? 60_000)) return;
    this.options.warn(
      `rate limiter still unavailable after ${seconds(now - outage.since)} s; ` +
        `${outage.unreported} more requests let through: ${reason}`,
    );
    outage.unreported = 0;
    outage.reportedAt = now;
  }

  /** The store answered: ends an outage, saying so once. */
  private answered(): void {
    const outage = this.outage;
    if (!outage) return;
    this.outage = undefined;
    (this.options.info ?? this.options.warn)(
      `rate limiter available again after ${seconds((this.options.now ?? Date.now)() - outage.since)} s; ` +
        `${outage.letThrough} requests were let through unlimited`,
    );
  }

  /**
   * `ip:<client address>` of a request (see the class comment); an IPv6 client by its /56
   * network (addressBucket), which it can take any number of addresses from.
   */
  addressKey(request: GateRequest): string {
    const address = this.proxies.clientAddress(
      request.socket.remoteAddress,
      request.headers['x-forwarded-for'],
    );
    return `ip:${address === undefined ? 'unknown' : addressBucket(address)}`;
  }
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

/** `user:<id>`: the key a caller with a valid credential is counted by. */
export function userKey(caller: Caller): string {
  return `user:${caller.userId}`;
}
