import { loadConfiguration } from '@causeway/cqrs-core';
import { embeddedConfiguration } from './embedded.config';

/** Soak finding: the embedded app must read the retention settings its stores need. */
describe('embedded retention settings', () => {
  it('reads IDEMPOTENCY_TTL_S and COMMAND_STATUS_RETENTION_S', () => {
    const config = loadConfiguration(embeddedConfiguration, {
      IDEMPOTENCY_TTL_S: '30',
      COMMAND_STATUS_RETENTION_S: '30',
    }) as Record<string, unknown>;
    expect(config.IDEMPOTENCY_TTL_S).toBe(30);
    expect(config.COMMAND_STATUS_RETENTION_S).toBe(30);
  });
});
