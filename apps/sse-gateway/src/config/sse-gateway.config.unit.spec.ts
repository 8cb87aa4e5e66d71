import { loadConfiguration } from '@causeway/cqrs-core';
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
});
