import { type ConfigurationError, loadConfiguration } from '@causeway/cqrs-core';
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

  // A bad NOTIFICATION_LOG_RETENTION_MS (0, 1.5) was reported, then reported again through the
  // horizon set beside it ("NOTIFY_HORIZON_MS: must be at most NOTIFICATION_LOG_RETENTION_MS,
  // here 0 ms"), blaming a horizon that was fine; a horizon beyond 2^53 - 1 ms was told both its
  // own bound and the retention's. A bound is compared only once both settings are valid.
  it('names a bad setting once, not again through a horizon compared with it', () => {
    const problems = (settings: Record<string, string>) => {
      try {
        loadConfiguration(projectionWorkerConfiguration, { ...required, ...settings });
      } catch (error) {
        return (error as ConfigurationError).issues;
      }
      throw new Error('loaded');
    };
    const horizons: Record<string, string>[] = [
      { NOTIFY_HORIZON_MS: '60000' },
      { NOTIFY_REBUILD_HORIZON_MS: '1000' },
    ];
    for (const retention of ['0', '1.5'])
      for (const horizon of horizons)
        expect(problems({ NOTIFICATION_LOG_RETENTION_MS: retention, ...horizon })).toEqual([
          {
            setting: 'NOTIFICATION_LOG_RETENTION_MS',
            problem:
              retention === '0'
                ? 'must be at least 1 ms'
                : 'must be a duration in whole milliseconds',
          },
        ]);
    for (const setting of ['NOTIFY_HORIZON_MS', 'NOTIFY_REBUILD_HORIZON_MS'])
      expect(problems({ [setting]: '99999999999999999' })).toEqual([
        { setting, problem: 'must be at most 9007199254740991 ms' },
      ]);
    // Other settings' problems do not hide a horizon's: every one is named at once.
    expect(problems({ PORT: 'eighty', NOTIFY_HORIZON_MS: '999999999999' })).toEqual([
      { setting: 'PORT', problem: 'must be a TCP port (1-65535)' },
      {
        setting: 'NOTIFY_HORIZON_MS',
        problem:
          'must be at most NOTIFICATION_LOG_RETENTION_MS, here 86400000 ms (the log dedups moves that long)',
      },
    ]);
    // Nor do a bad server URL's: `abort: true` on its first check stopped every check after it.
    for (const [setting, value, problem] of [
      ['REDIS_URL', 'localhost:6379', 'must be a redis:// or rediss:// URL'],
      ['KAFKA_BROKERS', 'localhost', 'must be a comma-separated list of host:port'],
      ['MONGODB_URI', 'localhost', 'must be a mongodb:// URI that names a database'],
    ] as const)
      expect(problems({ [setting]: value, NOTIFY_HORIZON_MS: '999999999999' })).toEqual([
        { setting, problem },
        {
          setting: 'NOTIFY_HORIZON_MS',
          problem:
            'must be at most NOTIFICATION_LOG_RETENTION_MS, here 86400000 ms (the log dedups moves that long)',
        },
      ]);
    // A bad horizon leaves the rebuild horizon compared with it alone.
    expect(problems({ NOTIFY_HORIZON_MS: '0', NOTIFY_REBUILD_HORIZON_MS: '1000' })).toEqual([
      { setting: 'NOTIFY_HORIZON_MS', problem: 'must be at least 1 ms' },
    ]);
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
