import {
  type GroupMembers,
  type NotificationLog,
  type TokenService,
  type TrainerPositions,
} from '@causeway/platform';
import { type PresenceRegistry } from '../presence/presence-registry.port';
import { type GatewaySettings } from './gateway.settings';

/** Everything the SSE gateway feature needs; the app (or the embedded mode) picks the adapters. */
export interface GatewayModuleOptions {
  /** This instance's id: in `session` frames, presence and connection events. */
  serverId: string;
  tokens: TokenService;
  notifications: NotificationLog;
  positions: TrainerPositions;
  groups: GroupMembers;
  presence: PresenceRegistry;
  settings?: Partial<GatewaySettings>;
  /** A bearer token (ADMIN_TOKEN) that sees every instance's presence; omit to disable. */
  adminToken?: string;
  /**
   * Publish ConnectionEstablishedEvent / ConnectionClosedEvent on the global EventBus when the
   * app has one (CqrsCoreModule). Best effort: never delays a connection. Default true.
   */
  connectionEvents?: boolean;
}

export const GATEWAY_OPTIONS = Symbol('causeway:gateway-options');
