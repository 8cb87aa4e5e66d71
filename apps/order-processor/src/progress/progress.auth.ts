import { Inject, Injectable, Logger } from '@nestjs/common';
import { ProblemException, problemType } from '@causeway/cqrs-core/nest';
import {
  bearerChallenge,
  bearerToken,
  type Caller,
  CallerGate,
  InvalidTokenError,
  type TokenService,
} from '@causeway/platform';

export const PROGRESS_TOKENS = Symbol('order-processor:tokens');

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
 * CallerGate (no rate limiter here: reads are cheap and the gateways limit streams).
 */
@Injectable()
export class ProgressAuth {
  private readonly gate = new CallerGate({
    limited: (retryAfter) =>
      new ProblemException(
        { type: problemType('rate-limited'), title: 'Too Many Requests', status: 429 },
        { headers: { 'Retry-After': String(retryAfter) } },
      ),
    refused: (error) => error instanceof ProblemException && error.getStatus() === 401,
    warn: (message) => new Logger('ProgressAuth').warn(message),
  });

  constructor(@Inject(PROGRESS_TOKENS) private readonly tokens: TokenService) {}

  /** @throws ProblemException 401 without a token, or with one that does not verify */
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
