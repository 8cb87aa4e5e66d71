import { loadConfiguration } from '@causeway/cqrs-core';
import {
  notifyHorizonOf,
  projectionWorkerConfiguration,
  rebuildHorizonOf,
} from './projection-worker.config';

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

  // The bound was named as a setting only: an operator who never set it (a default) was left to
  // look its value up. The error gives the value it has here.
  it('refuses a horizon set beyond its bound instead of cutting it down without a word, naming the bound and its value', () => {
    const load = (settings: Record<string, string>) => () =>
      loadConfiguration(projectionWorkerConfiguration, { ...required, ...settings });
    expect(load({ NOTIFY_HORIZON_MS: '999999999999' })).toThrow(
      /NOTIFY_HORIZON_MS: must be at most NOTIFICATION_LOG_RETENTION_MS, here 86400000 ms \(the log dedups moves that long\)$/,
    );
    expect(
      load({ NOTIFICATION_LOG_RETENTION_MS: '3600000', NOTIFY_HORIZON_MS: '7200000' }),
    ).toThrow(/NOTIFY_HORIZON_MS: must be at most NOTIFICATION_LOG_RETENTION_MS, here 3600000 ms /);
    expect(load({ NOTIFY_HORIZON_MS: '60000', NOTIFY_REBUILD_HORIZON_MS: '120000' })).toThrow(
      /NOTIFY_REBUILD_HORIZON_MS: must be at most NOTIFY_HORIZON_MS, here 60000 ms$/,
    );
    expect(load({ NOTIFY_REBUILD_HORIZON_MS: '90000000' })).toThrow(
      /NOTIFY_REBUILD_HORIZON_MS: must be at most NOTIFY_HORIZON_MS, here 86400000 ms \(not set: NOTIFICATION_LOG_RETENTION_MS\)$/,
    );
  });

  it('defaults the horizons within their bounds', () => {
    const defaults = loadConfiguration(projectionWorkerConfiguration, required);
    expect([notifyHorizonOf(defaults), rebuildHorizonOf(defaults)]).toEqual([86_400_000, 60_000]);
    // A shorter log retention shortens both defaults with it.
    const short = loadConfiguration(projectionWorkerConfiguration, {
      ...required,
      NOTIFICATION_LOG_RETENTION_MS: '30000',
    });
    expect([notifyHorizonOf(short), rebuildHorizonOf(short)]).toEqual([30_000, 30_000]);
  });
});
