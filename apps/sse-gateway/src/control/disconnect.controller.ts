import { type IncomingMessage } from 'node:http';
import {
  Body,
  Controller,
  HttpCode,
  Inject,
  Logger,
  Param,
  Post,
  Req,
  UseFilters,
} from '@nestjs/common';
import {
  AdminToken,
  ProblemException,
  problemType,
  type UnreadBodies,
} from '@causeway/cqrs-core/nest';
import { CallerGate, MAX_USER_ID_LENGTH } from '@causeway/platform';
import { GATEWAY_OPTIONS, type GatewayModuleOptions } from '../gateway/gateway.options';
import { DEFAULT_GATEWAY_SETTINGS } from '../gateway/gateway.settings';
import { ControlUnavailableProblem } from './control-unavailable.problem';
import { RetryAfterFilter } from '../auth/retry-after.filter';
import { unauthorized } from '../auth/stream.authenticator';
import { GATEWAY_CONTROL } from './gateway-control.token';
import { type GatewayControl } from './gateway-control.port';

/** The longest reason an operator may give (it is sent to every stream of the user). */
export const MAX_REASON_LENGTH = 200;

export interface DisconnectAnswer {
  userId: string;
  /** The gateway instances the order reached (each ends the user's streams it holds). */
  instances: number;
  /**
   * With `"revoke": true`: the revocation's cut (epoch ms). The user's tokens issued up to it,
   * and in the REVOCATION_SKEW_MS (60 s) after it, are refused.
   */
  revokedUntil?: number;
}

/** The disconnect order's path, as Express routes it (any case, a trailing slash). */
const DISCONNECT_PATH = /^\/api\/presence\/[^/?#]+\/disconnect\/?(?:[?#]|$)/i;

/**
 * Whether a request is a disconnect order without the admin token: parseBodies (UNREAD_BODIES)
 * then reads no body of it, and the handler answers 401 whatever the body. Checked in the
 * handler alone, the parsers read and parsed one up to their limit first, and a 400 or 413 told
 * a caller without the token what the route takes (session 48).
 */
export function disconnectWithoutToken(admin: AdminToken): UnreadBodies {
  return (request) =>
    request.method === 'POST' && DISCONNECT_PATH.test(request.url ?? '') && !admin.matches(request);
}

/**
 * POST /api/presence/{userId}/disconnect (admin token): ends every stream of the user on every
 * gateway instance now, each with a `disconnected` frame. Alone it revokes nothing: a client
 * that reconnects with a credential still valid gets a new stream (sessions end with their
 * credential; see `expired`). With `"revoke": true` the user's tokens issued until now are
 * refused first (TokenRevocations), by every app that checks them, so a reconnect is a 401.
 */
@Controller('api/presence')
@UseFilters(RetryAfterFilter)
export class DisconnectController {
  private readonly logger = new Logger(DisconnectController.name);

  constructor(
    @Inject(GATEWAY_CONTROL) private readonly control: GatewayControl,
    @Inject(CallerGate) private readonly gate: CallerGate,
    @Inject(AdminToken) private readonly admin: AdminToken,
    @Inject(GATEWAY_OPTIONS) private readonly options: GatewayModuleOptions,
  ) {}

  @Post(':userId/disconnect')
  @HttpCode(202)
  async disconnect(
    @Req() req: IncomingMessage,
    @Param('userId') userId: string,
    @Body() body: unknown,
  ): Promise<DisconnectAnswer> {
    if (!this.admin.matches(req)) {
      // Guessing the admin token costs the client address: ADMIN_REFUSALS shared with every
      // admin endpoint (adminRefused), else its rate, as any refused credential.
      if (this.options.adminRefused) await this.options.adminRefused(req);
      else await this.gate.charge(this.gate.addressKey(req));
      throw unauthorized(
        this.admin.configured
          ? 'the admin bearer token (ADMIN_TOKEN) is required'
          : 'the admin bearer token is required, and this instance has none (ADMIN_TOKEN)',
        req.headers.authorization ? 'invalid' : 'missing',
      );
    }
    // A body the JSON parser skipped (text/plain, a form) would be read as none: "revoke" lost.
    const sent =
      Number(req.headers['content-length'] ?? 0) > 0 || !!req.headers['transfer-encoding'];
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (sent && type !== 'application/json')
      throw new ProblemException({
        type: problemType('unsupported-media-type'),
        title: 'Unsupported Media Type',
        status: 415,
        detail: `the body must be application/json, not ${type ? `"${type}"` : 'untyped'}: nothing was done`,
      });
    const errors = [
      ...queryErrors(req),
      ...unknownFieldErrors(body),
      ...(userId.trim().length === 0 || userId.length > MAX_USER_ID_LENGTH
        ? [{ field: 'userId', message: `must be 1 to ${MAX_USER_ID_LENGTH} characters` }]
        : // No token's `sub` holds a NUL (TokenService refuses it): such an id names no user,
          // and its revocation would be stored for nobody.
          userId.includes('\u0000')
          ? [{ field: 'userId', message: 'must not contain a NUL character' }]
          : []),
      ...reasonErrors(body),
      ...revokeErrors(body),
    ];
    if (errors.length > 0)
      throw new ProblemException({
        type: problemType('invalid-request'),
        title: 'Bad Request',
        status: 400,
        detail: errors.map((error) => `${error.field} ${error.message}`).join('; '),
        errors,
      });
    const reason = reasonOf(body) ?? 'disconnected by an operator';
    const revoke = (body as { revoke?: boolean } | undefined)?.revoke === true;
    const revocations = this.options.revocations;
    if (revoke && !revocations)
      throw new ProblemException({
        type: problemType('revocation-unavailable'),
        title: 'Conflict',
        status: 409,
        detail: 'tokens are not revocable in this deployment: nothing was done',
      });
    try {
      let revokedUntil: number | undefined;
      if (revoke) {
        // Before the streams end: their clients' reconnects are then refused. The cut is on
        // the server's clock (Redis'), not this host's: a gateway behind by more than the
        // REVOCATION_SKEW_MS would leave the tokens issued since valid (session 30).
        revokedUntil = (this.options.serverTime ?? Date.now)();
        await revocations!.revoke(userId, revokedUntil, reason);
        revokedUntil = revocations!.revokedUntil(userId) ?? revokedUntil;
      }
      const instances = await this.control.disconnect({ userId, reason });
      return { userId, instances, ...(revokedUntil !== undefined && { revokedUntil }) };
    } catch (error) {
      this.logger.warn(`disconnect of ${userId} not done: ${(error as Error)?.message ?? error}`);
      throw new ControlUnavailableProblem(
        this.options.settings?.retryAfterSeconds ?? DEFAULT_GATEWAY_SETTINGS.retryAfterSeconds,
      );
    }
  }
}

function reasonOf(body: unknown): string | undefined {
  const reason = (body as { reason?: unknown } | undefined)?.reason;
  return typeof reason === 'string' ? reason : undefined;
}

/** The most query parameters a 400 names (a long query is not echoed whole). */
const MAX_NAMED_PARAMETERS = 5;

/**
 * The query parameters sent: the order takes none. `?revoke=true` (how many an operator's curl
 * would say it) was ignored, and the streams ended with nothing revoked — a 202 the operator
 * read as a revocation.
 */
function queryErrors(req: IncomingMessage): { field: string; message: string }[] {
  const url = req.url ?? '';
  const start = url.indexOf('?');
  if (start < 0) return [];
  const names = [...new Set(new URLSearchParams(url.slice(start + 1)).keys())];
  return names.slice(0, MAX_NAMED_PARAMETERS).map((name) => ({
    field: name.slice(0, 64),
    message:
      'is not a query parameter of this request (it takes none): send reason and revoke in the JSON body; nothing was done',
  }));
}

/** The fields of the body; a typo ("revok") would otherwise be ignored and revoke nothing. */
const FIELDS = new Set(['reason', 'revoke']);

function unknownFieldErrors(body: unknown): { field: string; message: string }[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return [];
  return Object.keys(body)
    .filter((field) => !FIELDS.has(field))
    .map((field) => ({ field, message: 'is not a field of this request (reason, revoke)' }));
}

function revokeErrors(body: unknown): { field: string; message: string }[] {
  const revoke = (body as { revoke?: unknown } | null | undefined)?.revoke;
  if (revoke === undefined || typeof revoke === 'boolean') return [];
  return [{ field: 'revoke', message: 'must be a boolean' }];
}

function reasonErrors(body: unknown): { field: string; message: string }[] {
  if (body === undefined || (typeof body === 'object' && body !== null && !Array.isArray(body))) {
    const reason = (body as { reason?: unknown } | null | undefined)?.reason;
    if (reason === undefined) return [];
    if (typeof reason === 'string' && reason.length > 0 && reason.length <= MAX_REASON_LENGTH)
      return [];
    return [
      { field: 'reason', message: `must be a string of 1 to ${MAX_REASON_LENGTH} characters` },
    ];
  }
  return [{ field: 'body', message: 'must be a JSON object: {"reason"?: string}' }];
}
