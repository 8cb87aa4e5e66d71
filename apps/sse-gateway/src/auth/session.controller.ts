import { type IncomingMessage, type ServerResponse } from 'node:http';
import { Controller, Delete, HttpCode, Inject, Post, Req, Res, UseFilters } from '@nestjs/common';
import { bearerToken, CallerGate, TrustedProxies } from '@causeway/platform';
import { GATEWAY_OPTIONS, type GatewayModuleOptions } from '../gateway/gateway.options';
import { RetryAfterFilter } from './retry-after.filter';
import { SESSION_COOKIE, StreamAuthenticator } from './stream.authenticator';

/**
 * How a browser gets credentials for GET /events, which EventSource cannot send as a header:
 * a short-lived stream token for `?token=`, or an HttpOnly, SameSite=Strict session cookie.
 */
@Controller('api')
@UseFilters(RetryAfterFilter)
export class SessionController {
  constructor(
    @Inject(StreamAuthenticator) private readonly auth: StreamAuthenticator,
    @Inject(CallerGate) private readonly gate: CallerGate,
    @Inject(GATEWAY_OPTIONS) private readonly options: GatewayModuleOptions,
  ) {}

  @Post('stream-tokens')
  @HttpCode(201)
  async streamToken(@Req() req: IncomingMessage): Promise<{ token: string; expiresAt: number }> {
    const caller = await this.gate.admit(req, () => this.auth.bearer(req));
    // The stream it opens ends with the access token it was issued for, not 60 s later.
    return this.options.tokens.issue(caller.userId, {
      use: 'stream',
      trainerIds: caller.trainerIds,
      sessionExpiresAt: caller.expiresAt,
      sessionIssuedAt: caller.issuedAt,
    });
  }

  /** Sets the caller's (verified) access token as the session cookie; it expires with the token. */
  @Post('session')
  @HttpCode(204)
  async open(
    @Req() req: IncomingMessage,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<void> {
    await this.gate.admit(req, () => this.auth.bearer(req));
    const token = bearerToken(req.headers.authorization)!;
    // The browser drops the cookie when the token inside stops working, instead of sending it
    // (and getting 401s) for the rest of the browser session.
    const maxAge = Math.max(0, expiresAt(token) - Math.floor(Date.now() / 1000));
    res.setHeader(
      'Set-Cookie',
      `${this.cookie(req, encodeURIComponent(token))}; Max-Age=${maxAge}`,
    );
  }

  /** Needs no credential: counted against the client's address. */
  @Delete('session')
  @HttpCode(204)
  async close(
    @Req() req: IncomingMessage,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<void> {
    await this.gate.charge(this.gate.addressKey(req));
    res.setHeader('Set-Cookie', `${this.cookie(req, '')}; Max-Age=0`);
  }

  /** Secure when the client used TLS: to this app, or to a proxy trusted with TRUST_PROXY. */
  private cookie(req: IncomingMessage, value: string): string {
    const proxies = this.options.trustedProxies ?? TrustedProxies.none;
    const secure = proxies.isSecure(req.socket, req.headers['x-forwarded-proto']) ? '; Secure' : '';
    return `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/${secure}`;
  }
}

/** The `exp` (seconds) of a JWT whose signature and expiry were verified already. */
function expiresAt(token: string): number {
  const payload = JSON.parse(
    Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'),
  ) as {
    exp?: unknown;
  };
  return typeof payload.exp === 'number' ? payload.exp : 0;
}
