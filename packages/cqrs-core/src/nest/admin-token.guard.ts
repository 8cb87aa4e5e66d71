import { timingSafeEqual, createHash } from 'node:crypto';
import {
  type CanActivate,
  type ExecutionContext,
  Inject,
  Injectable,
  Optional,
} from '@nestjs/common';
import { type IncomingMessage } from 'node:http';
import { ProblemException, problemType } from './problem-details.filter';

export const ADMIN_TOKEN = Symbol('causeway:admin-token');
export const ADMIN_REFUSED = Symbol('causeway:admin-refused');

/**
 * Told of each request an admin endpoint refuses (no token, or a wrong one), before its 401: e.g.
 * to charge the client address a rate, so that the token cannot be guessed at full speed. What it
 * throws is answered instead of the 401 (a 429 ProblemException, say); when it fails otherwise
 * (its store is down), throw nothing: the 401 stands.
 */
export type AdminRefused = (request: IncomingMessage) => Promise<void>;

/**
 * The operators' credential (ADMIN_TOKEN, not a JWT), compared in constant time over hashes (so
 * lengths leak nothing either). Without a configured token nothing matches. The one comparison
 * of every admin endpoint: AdminTokenGuard's and the apps' own (e.g. sse-gateway's presence).
 */
export class AdminToken {
  private readonly expected: Buffer | undefined;

  constructor(token: string | undefined) {
    this.expected = token ? digest(token) : undefined;
  }

  get configured(): boolean {
    return this.expected !== undefined;
  }

  /** Whether the request's `Authorization: Bearer <token>` is the admin token. */
  matches(request: { headers: { authorization?: string | string[] } }): boolean {
    const header = request.headers.authorization;
    const match = /^Bearer\s+(.+?)\s*$/i.exec(typeof header === 'string' ? header : '');
    // Compared even without a token, so that a missing header takes the same time.
    const given = digest(match?.[1] ?? '');
    return !!this.expected && !!match && timingSafeEqual(given, this.expected);
  }
}

/**
 * Admin endpoints need `Authorization: Bearer <ADMIN_TOKEN>`; anything else is 401, after
 * ADMIN_REFUSED (when provided) was told.
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly admin: AdminToken;

  constructor(
    @Inject(ADMIN_TOKEN) token: string,
    @Optional() @Inject(ADMIN_REFUSED) private readonly refused?: AdminRefused,
  ) {
    if (token.length < 16) throw new Error('ADMIN_TOKEN must be at least 16 characters');
    this.admin = new AdminToken(token);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<IncomingMessage>();
    if (!this.admin.matches(request)) {
      await this.refused?.(request);
      // Typed as the apps' own 401s: `reason` says whether a credential was sent at all.
      throw new ProblemException({
        type: problemType('unauthenticated'),
        title: 'Unauthorized',
        status: 401,
        detail: 'an admin bearer token is required',
        reason: request.headers.authorization === undefined ? 'missing' : 'invalid',
      });
    }
    return true;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
