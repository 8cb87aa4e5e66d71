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

  // Only heartbeat against timeout was checked: a NaN, 0, negative or fractional setting given
  // directly passed, and the hub ran with it (a NaN maxConnections refused no stream, a 0
  // heartbeatMs beat every millisecond, a NaN one never) (session 48).
  const DURATIONS = ['heartbeatMs', 'connectionTimeoutMs', 'stallTimeoutMs', 'retryMs'] as const;
  const AGES = ['historyTtlMs', 'positionsMaxAgeMs'] as const;
  const COUNTS = [
    'maxConnections',
    'maxConnectionsPerUser',
    'bufferMaxBytes',
    'historySize',
    'historyScanLimit',
    'retryAfterSeconds',
  ] as const;

  it.each([...DURATIONS, ...AGES, ...COUNTS])(
    'refuses a settings.%s that is NaN, infinite, zero, negative or fractional, naming it',
    (name) => {
      for (const value of [NaN, Infinity, 0, -1, 1.5])
        expect(() => forRoot({ [name]: value })).toThrow(
          new RegExp(`^GatewayModule: settings\\.${name} must .*, got ${value}$`),
        );
    },
  );

  it('says what a setting must be', () => {
    expect(() => forRoot({ heartbeatMs: 0 })).toThrow(
      'GatewayModule: settings.heartbeatMs must be at least 1 ms, got 0',
    );
    expect(() => forRoot({ maxConnections: 2.5 })).toThrow(
      'GatewayModule: settings.maxConnections must be a positive integer, got 2.5',
    );
    expect(() => forRoot({ historySize: '10' as unknown as number })).toThrow(
      'GatewayModule: settings.historySize must be a positive integer, got "10"',
    );
  });

  it("refuses a timer's setting longer than Node's timers keep, not an age", () => {
    const longest = 2_147_483_647;
    for (const name of DURATIONS)
      expect(() => forRoot({ [name]: longest + 1 })).toThrow(
        `settings.${name} must be at most ${longest} ms`,
      );
    expect(forRoot({ historyTtlMs: longest + 1, positionsMaxAgeMs: longest + 1 }).module).toBe(
      GatewayModule,
    );
  });

  it('takes a heartbeat below the connection timeout', () => {
    expect(forRoot({ heartbeatMs: 4_999, connectionTimeoutMs: 5_000 }).module).toBe(GatewayModule);
    expect(forRoot({}).module).toBe(GatewayModule);
  });
});
