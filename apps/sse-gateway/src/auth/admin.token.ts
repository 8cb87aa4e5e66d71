import { createHash, timingSafeEqual } from 'node:crypto';
import { bearerToken } from '@causeway/platform';

/**
 * The operators' credential (ADMIN_TOKEN, not a JWT), compared in constant time over hashes (so
 * lengths leak nothing either). Without a configured token nothing matches.
 */
export class AdminToken {
  private readonly expected: Buffer | undefined;

  constructor(token: string | undefined) {
    this.expected = token ? digest(token) : undefined;
  }

  get configured(): boolean {
    return this.expected !== undefined;
  }

  /** Whether the request's bearer token is the admin token. */
  matches(request: { headers: { authorization?: string } }): boolean {
    const token = bearerToken(request.headers.authorization);
    return !!this.expected && !!token && timingSafeEqual(digest(token), this.expected);
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
