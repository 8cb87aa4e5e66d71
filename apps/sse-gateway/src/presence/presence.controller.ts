import { type IncomingMessage } from 'node:http';
import { Controller, Get, Inject, Req, UseFilters } from '@nestjs/common';
import { type Caller, CallerGate } from '@causeway/platform';
import { AdminToken } from '@causeway/cqrs-core/nest';
import { readOrUnavailable } from '../auth/read-unavailable.problem';
import { RetryAfterFilter } from '../auth/retry-after.filter';
import { StreamAuthenticator } from '../auth/stream.authenticator';
import { GATEWAY_OPTIONS, type GatewayModuleOptions } from '../gateway/gateway.options';
import { DEFAULT_GATEWAY_SETTINGS } from '../gateway/gateway.settings';

export interface PresenceView {
  instances: {
    serverId: string;
    users: { userId: string; connections: number; since: number }[];
  }[];
}

/**
 * GET /api/presence (S0-8): who is online on which live instance. The admin token (bearer)
 * sees everyone; a user (bearer access token or the session cookie) sees their own connections
 * and the members of their groups only. Group members are trainers, and a user is in a group
 * through their own trainer and the trainers their token lets them move, for both: the caller's
 * groups are those of all their trainers, and a user is seen when one of theirs is in one.
 */
@Controller('api')
@UseFilters(RetryAfterFilter)
export class PresenceController {
  constructor(
    @Inject(StreamAuthenticator) private readonly auth: StreamAuthenticator,
    @Inject(CallerGate) private readonly gate: CallerGate,
    @Inject(GATEWAY_OPTIONS) private readonly options: GatewayModuleOptions,
    @Inject(AdminToken) private readonly admin: AdminToken,
  ) {}

  @Get('presence')
  async presence(@Req() req: IncomingMessage): Promise<PresenceView> {
    const admin = this.admin.matches(req);
    // A bearer that is no token (not three dot-separated parts) can only be a guess of the admin
    // token: it uses up ADMIN_REFUSALS with every admin endpoint's (a review, session 36).
    if (!admin && this.options.adminRefused && guessesAdminToken(req))
      await this.options.adminRefused(req);
    // Admitted (authenticated, rate limited) before anything is read.
    const caller = admin ? undefined : await this.gate.admit(req, () => this.auth.access(req));
    const retryAfter =
      this.options.settings?.retryAfterSeconds ?? DEFAULT_GATEWAY_SETTINGS.retryAfterSeconds;
    const [visible, instances] = await readOrUnavailable('presence', retryAfter, () =>
      Promise.all([caller ? this.visibleUsers(caller) : undefined, this.options.presence.list()]),
    );
    return {
      instances: instances
        .map(({ serverId, connections }) => {
          const users = new Map<string, { userId: string; connections: number; since: number }>();
          for (const { userId, connectedAt, trainerIds = [] } of connections) {
            // A user is in a group through their own trainer and the trainers their token lets
            // them move, on both sides: who moves a trainer of the caller's groups is seen too.
            if (visible && !visible.has(userId) && !trainerIds.some((id) => visible.has(id)))
              continue;
            const user = users.get(userId) ?? { userId, connections: 0, since: connectedAt };
            user.connections += 1;
            user.since = Math.min(user.since, connectedAt);
            users.set(userId, user);
          }
          return {
            serverId,
            users: [...users.values()].sort((a, b) => a.userId.localeCompare(b.userId)),
          };
        })
        .filter((instance) => !visible || instance.users.length > 0),
    };
  }

  /** A user's view (the admin token's is not rate limited: operators, monitoring). */
  private async visibleUsers(caller: Caller): Promise<Set<string>> {
    const visible = new Set([caller.userId]);
    // Groups of the user's own trainer and of the trainers their token lets them move.
    const own = [...new Set([caller.userId, ...caller.trainerIds])];
    const groups = [
      ...new Set((await Promise.all(own.map((id) => this.options.groups.groupsOf(id)))).flat()),
    ];
    for (const members of await Promise.all(groups.map((id) => this.options.groups.membersOf(id))))
      for (const member of members) visible.add(member);
    return visible;
  }
}

/** A bearer credential that cannot be a JWT (header.payload.signature): an admin token guess. */
function guessesAdminToken(req: IncomingMessage): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return match !== null && match[1]!.split('.').length !== 3;
}
