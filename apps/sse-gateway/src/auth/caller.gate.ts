import { type IncomingMessage } from 'node:http';
import { HttpException, HttpStatus } from '@nestjs/common';
import { type Caller } from '@causeway/platform';
import { type RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import { RateLimitedProblem } from './rate-limited.problem';

/**
 * Whether a caller is within their rate (RATE_LIMIT_POINTS per RATE_LIMIT_WINDOW_S, one point a
 * request), counted per user id, or per client address when the credential is missing or
 * invalid — so a flood of bad tokens is throttled too (429 before 401). The same semantics as
 * command-api's CallerGate, with its own counters. Without a limiter, everyone is within.
 * The client address is Express's `req.ip`: the peer, or behind a proxy trusted with
 * TRUST_PROXY (Express's `trust proxy`) the address it forwarded; otherwise every client behind
 * a proxy shares the proxy's address.
 */
export class CallerGate {
  constructor(
    private readonly limiter: RateLimiterAbstract | undefined,
    private readonly warn: (message: string) => void,
  ) {}

  /**
   * The caller `authenticate` finds, charged one point to their user id; when it refuses with 401,
   * one point to the client's address, then that 401.
   * @throws RateLimitedProblem beyond the caller's rate, whatever the credential
   */
  async admit(request: IncomingMessage, authenticate: () => Promise<Caller>): Promise<Caller> {
    let caller: Caller;
    try {
      caller = await authenticate();
    } catch (error) {
      if (isUnauthorized(error)) await this.charge(addressKey(request));
      throw error;
    }
    await this.charge(userKey(caller));
    return caller;
  }

  /**
   * Charges one point to `key` (`user:<id>`, `ip:<address>`: see userKey, addressKey).
   * @throws RateLimitedProblem when that goes beyond its rate
   */
  async charge(key: string): Promise<void> {
    if (!this.limiter) return;
    try {
      await this.limiter.consume(key);
    } catch (error) {
      if (error instanceof RateLimiterRes)
        throw new RateLimitedProblem(Math.max(1, Math.ceil(error.msBeforeNext / 1000)));
      // The limiter's store is down: serve rather than refuse everyone (fail open).
      this.warn(`rate limiter unavailable, request let through: ${(error as Error).message}`);
    }
  }
}

export function userKey(caller: Caller): string {
  return `user:${caller.userId}`;
}

/** `ip:<address>` of a request Express has seen (`req.ip`), else of its peer. */
export function addressKey(request: IncomingMessage): string {
  const address = (request as { ip?: string }).ip ?? request.socket.remoteAddress;
  if (address === undefined) return 'ip:unknown';
  // IPv4 on a dual-stack socket (`::ffff:127.0.0.1`) is the same client as `127.0.0.1`.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return `ip:${mapped ? mapped[1]! : address.toLowerCase()}`;
}

export function isUnauthorized(error: unknown): boolean {
  return error instanceof HttpException && error.getStatus() === HttpStatus.UNAUTHORIZED;
}
