import { type ConfigurationError, loadConfiguration } from '@causeway/cqrs-core';
import { sseGatewayConfiguration } from './sse-gateway.config';

describe('sse-gateway settings', () => {
  const required = {
    JWT_SECRET: 'a-test-secret-of-at-least-32-characters',
    ADMIN_TOKEN: 'an-admin-token-of-at-least-32-characters',
    REDIS_URL: 'redis://127.0.0.1:6379',
  };

  it('reads STALL_TIMEOUT_MS, 30 s when unset', () => {
    expect(loadConfiguration(sseGatewayConfiguration, required).STALL_TIMEOUT_MS).toBe(30_000);
    expect(
      loadConfiguration(sseGatewayConfiguration, { ...required, STALL_TIMEOUT_MS: '500' })
        .STALL_TIMEOUT_MS,
    ).toBe(500);
  });

  it('refuses a STALL_TIMEOUT_MS below 100 ms or not a duration at start-up, naming it', () => {
    for (const value of ['50', '0', 'soon'])
      expect(() =>
        loadConfiguration(sseGatewayConfiguration, { ...required, STALL_TIMEOUT_MS: value }),
      ).toThrow(/STALL_TIMEOUT_MS: must be/);
  });

  it('refuses a HEARTBEAT_MS not below CONNECTION_TIMEOUT_MS at start-up, naming both', () => {
    // A stream would end before its first heartbeat: proxies with an idle timeout cut it, and
    // a client watching for heartbeats (?heartbeat=event) never sees one.
    const load = (settings: Record<string, string>) =>
      loadConfiguration(sseGatewayConfiguration, { ...required, ...settings });
    expect(() => load({ HEARTBEAT_MS: '300000' })).toThrow(
      'HEARTBEAT_MS: must be below CONNECTION_TIMEOUT_MS (300000 ms), or a stream ends before its first heartbeat',
    );
    expect(() => load({ HEARTBEAT_MS: '60000', CONNECTION_TIMEOUT_MS: '30000' })).toThrow(
      'HEARTBEAT_MS: must be below CONNECTION_TIMEOUT_MS (30000 ms)',
    );
    const fine = load({ HEARTBEAT_MS: '29999', CONNECTION_TIMEOUT_MS: '30000' });
    expect([fine.HEARTBEAT_MS, fine.CONNECTION_TIMEOUT_MS]).toEqual([29_999, 30_000]);
  });

  // CONNECTION_TIMEOUT_MS=1.5 was named, then HEARTBEAT_MS was blamed for being above it ("must
  // be below CONNECTION_TIMEOUT_MS (1.5 ms)"): compared only once both are valid.
  it('names a bad HEARTBEAT_MS or CONNECTION_TIMEOUT_MS once, not again through the other', () => {
    const problems = (settings: Record<string, string>) => {
      try {
        loadConfiguration(sseGatewayConfiguration, { ...required, ...settings });
      } catch (error) {
        return (error as ConfigurationError).issues;
      }
      throw new Error('loaded');
    };
    expect(problems({ CONNECTION_TIMEOUT_MS: '1.5' })).toEqual([
      { setting: 'CONNECTION_TIMEOUT_MS', problem: 'must be a duration in whole milliseconds' },
    ]);
    expect(problems({ HEARTBEAT_MS: '3000000000' })).toEqual([
      {
        setting: 'HEARTBEAT_MS',
        problem: 'must be at most 2147483647 ms (~24.8 days, the longest timer)',
      },
    ]);
    // Whatever else is wrong.
    expect(problems({ REDIS_URL: 'localhost', HEARTBEAT_MS: '300000' })).toEqual([
      { setting: 'REDIS_URL', problem: 'must be a redis:// or rediss:// URL' },
      {
        setting: 'HEARTBEAT_MS',
        problem:
          'must be below CONNECTION_TIMEOUT_MS (300000 ms), or a stream ends before its first heartbeat',
      },
    ]);
  });

  it('refuses a PRESENCE_TTL_MS under 1 s (it would expire between beats) or past the longest timer', () => {
    const ttl = (value: string) =>
      loadConfiguration(sseGatewayConfiguration, { ...required, PRESENCE_TTL_MS: value })
        .PRESENCE_TTL_MS;
    expect(ttl('1500')).toBe(1_500);
    expect(() => ttl('1')).toThrow('PRESENCE_TTL_MS: must be at least 1000 ms');
    expect(() => ttl('3000000000')).toThrow('PRESENCE_TTL_MS: must be at most 2147483647 ms');
    // A retention is compared with times, never a timer: 30 days are fine.
    expect(
      loadConfiguration(sseGatewayConfiguration, { ...required, HISTORY_TTL_MS: '2592000000' })
        .HISTORY_TTL_MS,
    ).toBe(2_592_000_000);
    for (const name of ['HEARTBEAT_MS', 'SSE_RETRY_MS', 'CONNECTION_TIMEOUT_MS'])
      expect(() =>
        loadConfiguration(sseGatewayConfiguration, { ...required, [name]: '3000000000' }),
      ).toThrow(`${name}: must be at most 2147483647 ms`);
  });
});

describe('sse-gateway settings: ADMIN_TOKEN apart from the token secrets', () => {
  // The admin token is sent by operators' scripts to every app, trainer-service and
  // projection-worker included, which never get JWT_SECRET: as a secret of the tokens it would
  // let whoever holds it sign a token for any user.
  const shared = 'a-secret-used-as-both-0123456789-abcdef';
  const required = { REDIS_URL: 'redis://127.0.0.1:6379' };

  it('refuses a JWT_SECRET or a JWT_PREVIOUS_SECRETS entry that is ADMIN_TOKEN, naming it', () => {
    expect(() =>
      loadConfiguration(sseGatewayConfiguration, {
        ...required,
        JWT_SECRET: shared,
        ADMIN_TOKEN: shared,
      }),
    ).toThrow('JWT_SECRET: must not be ADMIN_TOKEN');
    expect(() =>
      loadConfiguration(sseGatewayConfiguration, {
        ...required,
        ADMIN_TOKEN: shared,
        JWT_PREVIOUS_SECRETS: `other-secret-0123456789-0123456789,${shared}`,
      }),
    ).toThrow('JWT_PREVIOUS_SECRETS: must not hold ADMIN_TOKEN');
  });
});
