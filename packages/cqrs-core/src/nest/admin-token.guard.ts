import { timingSafeEqual, createHash } from 'node:crypto';
import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { ProblemException, problemType } from './problem-details.filter';

export const ADMIN_TOKEN = Symbol('causeway:admin-token');

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
 * Admin endpoints need `Authorization: Bearer <ADMIN_TOKEN>`; anything else is 401.
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly admin: AdminToken;

  constructor(@Inject(ADMIN_TOKEN) token: string) {
    if (token.length < 16) throw new Error('ADMIN_TOKEN must be at least 16 characters');
    this.admin = new AdminToken(token);
  }

  canActivate(context: ExecutionContext): boolean {
    const request = context
      .switchToHttp()
      .getRequest<{ headers: { authorization?: string | string[] } }>();
    if (!this.admin.matches(request)) {
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
