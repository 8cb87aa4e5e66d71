import { timingSafeEqual, createHash } from 'node:crypto';
import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { ProblemException } from './problem-details.filter';

export const ADMIN_TOKEN = Symbol('causeway:admin-token');

/**
 * Admin endpoints need `Authorization: Bearer <ADMIN_TOKEN>`; anything else is 401. The
 * comparison is constant-time (over hashes, so lengths leak nothing either).
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected: Buffer;

  constructor(@Inject(ADMIN_TOKEN) token: string) {
    if (token.length < 16) throw new Error('ADMIN_TOKEN must be at least 16 characters');
    this.expected = createHash('sha256').update(token).digest();
  }

  canActivate(context: ExecutionContext): boolean {
    const header =
      context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>().headers
        .authorization ?? '';
    const match = /^Bearer +(.+)$/i.exec(header);
    const given = createHash('sha256')
      .update(match?.[1] ?? '')
      .digest();
    if (!match || !timingSafeEqual(given, this.expected)) {
      throw new ProblemException({
        title: 'Unauthorized',
        status: 401,
        detail: 'an admin bearer token is required',
      });
    }
    return true;
  }
}
