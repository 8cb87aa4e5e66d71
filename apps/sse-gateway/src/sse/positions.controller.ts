import { type IncomingMessage } from 'node:http';
import { Controller, Get, Inject, Req, UseFilters } from '@nestjs/common';
import { CallerGate } from '@causeway/platform';
import { readOrUnavailable } from '../auth/read-unavailable.problem';
import { RetryAfterFilter } from '../auth/retry-after.filter';
import { StreamAuthenticator } from '../auth/stream.authenticator';
import { GATEWAY_OPTIONS, type GatewayModuleOptions } from '../gateway/gateway.options';
import { DEFAULT_GATEWAY_SETTINGS } from '../gateway/gateway.settings';
import { type VisiblePosition, visiblePositions } from './visible-positions';

/**
 * GET /api/positions: the current positions the caller may see (the same rule as the `recovery`
 * message), from the positions read model — what a client draws before the first update
 * arrives. Bearer access token or the session cookie.
 */
@Controller('api')
@UseFilters(RetryAfterFilter)
export class PositionsController {
  constructor(
    @Inject(StreamAuthenticator) private readonly auth: StreamAuthenticator,
    @Inject(CallerGate) private readonly gate: CallerGate,
    @Inject(GATEWAY_OPTIONS) private readonly options: GatewayModuleOptions,
  ) {}

  @Get('positions')
  async positions(@Req() req: IncomingMessage): Promise<{ positions: VisiblePosition[] }> {
    // Rate limited before it reads: its cost grows with the number of trainers.
    const caller = await this.gate.admit(req, () => this.auth.access(req));
    const retryAfter =
      this.options.settings?.retryAfterSeconds ?? DEFAULT_GATEWAY_SETTINGS.retryAfterSeconds;
    return {
      positions: await readOrUnavailable('the positions', retryAfter, () =>
        visiblePositions(
          caller,
          this.options.positions,
          this.options.groups,
          this.options.notifications,
          (this.options.serverTime ?? Date.now)() -
            (this.options.settings?.positionsMaxAgeMs ??
              DEFAULT_GATEWAY_SETTINGS.positionsMaxAgeMs),
        ),
      ),
    };
  }
}
