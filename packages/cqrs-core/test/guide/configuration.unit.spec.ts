import {
  ConfigurationError,
  connectionSettings,
  loadConfiguration,
  serviceSettings,
  setting,
} from '@causeway/cqrs-core';
import { z } from 'zod';

describe('guide: configuration', () => {
  it('reads one validated configuration, naming every bad setting', () => {
    // #region guide:configuration
    const configuration = z.object({
      ...serviceSettings, // HOST, LOG_LEVEL, INSTANCE_ID, SHUTDOWN_TIMEOUT_MS, HTTP_KEEP_ALIVE_TIMEOUT_MS
      PORT: setting.port(3000),
      REDIS_URL: setting.redisUrl(),
      ...connectionSettings.redis, // REDIS_CONNECT_TIMEOUT_MS, REDIS_COMMAND_TIMEOUT_MS, REDIS_SILENCE_TIMEOUT_MS
      STATEMENT_DAY: z.coerce.number().int().min(1).max(28).default(1), // your own
    });
    const config = loadConfiguration(configuration, {
      REDIS_URL: 'redis://127.0.0.1:6379', // process.env when not given
    });
    // config.PORT 3000, config.REDIS_COMMAND_TIMEOUT_MS 1000, config.STATEMENT_DAY 1

    const refused = (() => {
      try {
        return loadConfiguration(configuration, { PORT: '99999', REDIS_URL: 's3cret' });
      } catch (error) {
        return error; // a ConfigurationError; the values given are never echoed
      }
    })();
    // refused.message: 'Invalid configuration: PORT: must be a TCP port (1-65535);
    // REDIS_URL: must be a redis:// or rediss:// URL'
    // #endregion
    expect(config).toMatchObject({
      PORT: 3000,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      REDIS_COMMAND_TIMEOUT_MS: 1000,
      STATEMENT_DAY: 1,
    });
    expect(refused).toBeInstanceOf(ConfigurationError);
    expect((refused as Error).message).toBe(
      'Invalid configuration: PORT: must be a TCP port (1-65535); ' +
        'REDIS_URL: must be a redis:// or rediss:// URL',
    );
    expect((refused as Error).message).not.toContain('s3cret');
  });
});
