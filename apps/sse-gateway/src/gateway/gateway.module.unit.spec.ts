import 'reflect-metadata';
import {
  InMemoryGroupMembers,
  InMemoryNotificationLog,
  InMemoryTrainerPositions,
  TokenService,
} from '@causeway/platform';
import { InMemoryPresenceRegistry } from '../presence/in-memory.presence-registry';
import { GatewayModule } from './gateway.module';
import { type GatewaySettings } from './gateway.settings';

const forRoot = (settings: Partial<GatewaySettings>) =>
  GatewayModule.forRoot({
    serverId: 'gw-1',
    tokens: new TokenService({ secret: 'a-test-secret-of-at-least-32-characters' }),
    notifications: new InMemoryNotificationLog(),
    positions: new InMemoryTrainerPositions(),
    groups: new InMemoryGroupMembers(),
    presence: new InMemoryPresenceRegistry(),
    settings,
  });

/*
 * The apps refuse HEARTBEAT_MS ≥ CONNECTION_TIMEOUT_MS at start (session 47); the module took
 * the same settings given directly (the embedded mode, a bench, an app of one's own), and every
 * stream ended before its first heartbeat: a proxy's idle timeout cut it, and a client watching
 * for `?heartbeat=event` never saw one (session 48).
 */
describe('GatewayModule.forRoot settings', () => {
  it('refuses a heartbeat at or past the connection timeout, naming both', () => {
    expect(() => forRoot({ heartbeatMs: 5_000, connectionTimeoutMs: 5_000 })).toThrow(
      'GatewayModule: settings.heartbeatMs (5000 ms) must be below settings.connectionTimeoutMs (5000 ms), or a stream ends before its first heartbeat',
    );
    // Only the timeout given: below the default heartbeat (30 s).
    expect(() => forRoot({ connectionTimeoutMs: 20_000 })).toThrow(
      /settings\.heartbeatMs \(30000 ms\) must be below settings\.connectionTimeoutMs \(20000 ms\)/,
    );
  });

  it('takes a heartbeat below the connection timeout', () => {
    expect(forRoot({ heartbeatMs: 4_999, connectionTimeoutMs: 5_000 }).module).toBe(GatewayModule);
    expect(forRoot({}).module).toBe(GatewayModule);
  });
});
