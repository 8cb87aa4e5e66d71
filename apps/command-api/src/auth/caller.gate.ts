import { Inject, Injectable, Logger } from '@nestjs/common';
import { type Caller, InvalidTokenError, bearerToken } from '@causeway/platform';
import { RateLimiterRes } from 'rate-limiter-flexible';
import { COMMAND_API_OPTIONS, type CommandApiOptions } from '../command-api.options';
import { RateLimitedError, UnauthenticatedError } from '../errors/command-api.errors';
import { type ApiRequest, header } from '../http/http.types';

/**
 * The door of every command endpoint: who is calling (Bearer JWT → Caller), and whether they
 * are within their rate. The limit is counted per user id, or per client IP when the token is
 * missing or invalid — so a flood of bad tokens is throttled too (429 before 401). Behind a
 * reverse proxy every client has the proxy's address: set `trustedProxies` (TRUST_PROXY), or
 * one client's flood throttles every unauthenticated caller. A request
 * costs one point; a JSON-RPC batch costs one per call (see charge).
 */
@Injectable()
export class CallerGate {
  private readonly logger = new Logger(CallerGate.name);

  constructor(@Inject(COMMAND_API_OPTIONS) private readonly options: CommandApiOptions) {}

  async admit(request: ApiRequest): Promise<Caller> {
    let caller: Caller | undefined;
    let refusal: UnauthenticatedError | undefined;
    const token = bearerToken(header(request, 'authorization'));
    if (!token)
      refusal = new UnauthenticatedError('an Authorization: Bearer <token> header is required');
    else {
      try {
        caller = await this.options.tokens.verify(token);
      } catch (error) {
        if (!(error instanceof InvalidTokenError)) throw error;
        refusal = new UnauthenticatedError(error.message);
      }
    }
    await this.consume(caller ? `user:${caller.userId}` : `ip:${this.clientAddress(request)}`);
    if (!caller) throw refusal!;
    return caller;
  }

  /**
   * Charges `points` more to an admitted caller's rate (the further calls of a batch: a batch
   * must not buy many commands for the price of one request).
   * @throws RateLimitedError when that goes beyond the caller's rate
   */
  async charge(caller: Caller, points: number): Promise<void> {
    if (points > 0) await this.consume(`user:${caller.userId}`, points);
  }

  /** Behind a trusted proxy (TRUST_PROXY), the address it forwarded; else the peer's. */
  private clientAddress(request: ApiRequest): string {
    const proxies = this.options.trustedProxies;
    const address = proxies
      ? proxies.clientAddress(request.socket.remoteAddress, request.headers['x-forwarded-for'])
      : (request.ip ?? request.socket.remoteAddress);
    return address ?? 'unknown';
  }

  private async consume(key: string, points = 1): Promise<void> {
    try {
      await this.options.rateLimiter.consume(key, points);
    } catch (error) {
      if (error instanceof RateLimiterRes)
        throw new RateLimitedError(Math.max(1, Math.ceil(error.msBeforeNext / 1000)));
      // The limiter's store is down: serve rather than refuse everyone (fail open).
      this.logger.warn(
        `rate limiter unavailable, request let through: ${(error as Error).message}`,
      );
    }
  }
}
