import { loadConfiguration } from '@causeway/cqrs-core';
import { projectionWorkerConfiguration } from './projection-worker.config';

describe('projection-worker settings', () => {
  const required = {
    ADMIN_TOKEN: 'an-admin-token-of-at-least-32-characters',
    REDIS_URL: 'redis://127.0.0.1:6379',
    KAFKA_BROKERS: '127.0.0.1:9092',
    MONGODB_URI: 'mongodb://127.0.0.1:27017/causeway',
  };

  it('takes retentions and horizons beyond the longest timer (they are compared with times)', () => {
    const month = '2592000000';
    const config = loadConfiguration(projectionWorkerConfiguration, {
      ...required,
      NOTIFICATION_LOG_RETENTION_MS: month,
      NOTIFY_HORIZON_MS: month,
      NOTIFY_REBUILD_HORIZON_MS: month,
    });
    expect(config).toMatchObject({
      NOTIFICATION_LOG_RETENTION_MS: 2_592_000_000,
      NOTIFY_HORIZON_MS: 2_592_000_000,
      NOTIFY_REBUILD_HORIZON_MS: 2_592_000_000,
    });
    // A timer is still bounded.
    expect(() =>
      loadConfiguration(projectionWorkerConfiguration, {
        ...required,
        CATCH_UP_INTERVAL_MS: month,
      }),
    ).toThrow('CATCH_UP_INTERVAL_MS: must be at most 2147483647 ms');
  });
});
