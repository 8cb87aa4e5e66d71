import { Inject, Injectable, Logger } from '@nestjs/common';
import { ProblemException, problemType } from '@causeway/cqrs-core/nest';
import {
  bearerChallenge,
  bearerToken,
  type Caller,
  CallerGate,
  type CallerGateOptions,
  InvalidTokenError,
  type TokenService,
  type TrustedProxies,
  userKey,
} from '@causeway/platform';

export const PROGRESS_TOKENS = Symbol('order-processor:tokens');
export const PROGRESS_LIMITS = Symbol('order-processor:limits');

/** How the progress reads are rate limited. */
export interface ProgressLimits {
  /**
   * The counters: RATE_LIMIT_POINTS per RATE_LIMIT_WINDOW_S per caller, in Redis (shared by
   * every instance, apart from command-api's and sse-gateway's). None: no limit.
   */
  limiter?: CallerGateOptions['limiter'];
  /** Whose `X-Forwarded-For` names a caller without a valid token (TRUST_PROXY). */
  proxies?: TrustedProxies;
}

/** A request as the reads see it (Express's IncomingMessage has it). */
export interface ProgressRequest {
  headers: Record<string, string | string[] | undefined>;
  socket: { remoteAddress?: string };
}

function unauthenticated(
  detail: string,
  reason: 'missing' | 'expired' | 'invalid',
): ProblemException {
  return new ProblemException(
    {
      type: problemType('unauthenticated'),
      title: 'Unauthorized',
      status: 401,
      detail,
      reason,
    },
    { headers: { 'WWW-Authenticate': bearerChallenge(reason === 'missing' ? undefined : reason) } },
  );
}

/**
 * Who is calling a progress read: the `Authorization: Bearer` access token's subject, verified
 * as command-api and sse-gateway verify it (same JWT_SECRET, issuer and revocations), through a
 * CallerGate: each read costs the caller a point of their rate (per user; per client address
 * without a valid token, so a flood of bad tokens is throttled too: 429 before 401). Reads are
 * a stream read and a fold each, `/user` one per task it lists (up to 100, `?limit=`), which
 * pays a point per 20 (`chargeAfter`, userTasksPoints): unlimited, one client could keep the
 * event store busy for everyone.
 */
@Injectable()
export class ProgressAuth {
  private readonly gate: CallerGate;

  constructor(
    @Inject(PROGRESS_TOKENS) private readonly tokens: TokenService,
    @Inject(PROGRESS_LIMITS) limits: ProgressLimits,
  ) {
    const logger = new Logger('ProgressAuth');
    this.gate = new CallerGate({
      ...(limits.limiter && { limiter: limits.limiter }),
      ...(limits.proxies && { proxies: limits.proxies }),
      limited: (retryAfter) =>
        new ProblemException(
          {
            type: problemType('rate-limited'),
            title: 'Too Many Requests',
            status: 429,
            detail: `too many requests; retry in ${retryAfter} s (RATE_LIMIT_POINTS per RATE_LIMIT_WINDOW_S)`,
          },
          { headers: { 'Retry-After': String(retryAfter) } },
        ),
      refused: (error) => error instanceof ProblemException && error.getStatus() === 401,
      warn: (message) => logger.warn(message),
      info: (message) => logger.log(message),
    });
  }

  /**
   * Charges the caller `points` more for a read that did more than one point's work (a page of
   * `/user` listing over 20 tasks), after it was answered: the work is done, and refusing it
   * then would only make the caller ask again. Beyond their rate, their next reads answer 429.
   */
  async chargeAfter(caller: Caller, points: number): Promise<void> {
    if (points > 0) await this.gate.charge(userKey(caller), points).catch(() => undefined);
  }

  /**
   * @throws ProblemException 401 without a token, or with one that does not verify; 429 (with
   *   Retry-After) beyond the caller's rate, whatever the token
   */
  async caller(request: ProgressRequest): Promise<Caller> {
    return this.gate.admit(request, async () => {
      const header = request.headers.authorization;
      const token = bearerToken(Array.isArray(header) ? header[0] : header);
      if (!token)
        throw unauthenticated('an Authorization: Bearer <token> header is required', 'missing');
      try {
        return await this.tokens.verify(token);
      } catch (error) {
        if (!(error instanceof InvalidTokenError)) throw error;
        throw unauthenticated(error.message, error.refusal);
      }
    });
  }
}
