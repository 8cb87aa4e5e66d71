import { loadConfiguration } from '@causeway/cqrs-core';
import { embeddedConfiguration } from './embedded.config';

describe('embedded settings', () => {
  it('takes SNAPSHOT_EVERY=0 as "no snapshots", as the README says', () => {
    expect(loadConfiguration(embeddedConfiguration, { SNAPSHOT_EVERY: '0' }).SNAPSHOT_EVERY).toBe(
      0,
    );
  });

  it('keeps 500 events per trainer, removed every minute, and refuses to keep fewer than SNAPSHOT_EVERY', () => {
    expect(loadConfiguration(embeddedConfiguration, {})).toMatchObject({
      EVENT_RETENTION_MAX_COUNT: 500,
      EVENT_RETENTION_INTERVAL_MS: 60_000,
    });
    expect(() =>
      loadConfiguration(embeddedConfiguration, {
        SNAPSHOT_EVERY: '50',
        EVENT_RETENTION_MAX_COUNT: '49',
      }),
    ).toThrow(
      'EVENT_RETENTION_MAX_COUNT: must be at least SNAPSHOT_EVERY (50): a trainer loads from its latest snapshot and the events after it',
    );
    // No retention, or no snapshots (then nothing is removed): any count.
    for (const env of [{ EVENT_RETENTION_INTERVAL_MS: '0' }, { SNAPSHOT_EVERY: '0' }])
      expect(
        loadConfiguration(embeddedConfiguration, {
          ...env,
          EVENT_RETENTION_MAX_COUNT: '1',
        }).EVENT_RETENTION_MAX_COUNT,
      ).toBe(1);
  });

  // zod's default ran the check only when nothing else was wrong: a PORT of the wrong form hid
  // it until mended, and the start after that failed again naming the count.
  it('names a count below SNAPSHOT_EVERY along with a malformed setting', () => {
    expect(() =>
      loadConfiguration(embeddedConfiguration, {
        PORT: 'eighty',
        SNAPSHOT_EVERY: '50',
        EVENT_RETENTION_MAX_COUNT: '49',
      }),
    ).toThrow(
      'Invalid configuration: PORT: must be a TCP port (1-65535); EVENT_RETENTION_MAX_COUNT: must be at least SNAPSHOT_EVERY (50)',
    );
  });

  // A check blaming a setting left to its default said "is required" of it: the operator who set
  // SNAPSHOT_EVERY or CONNECTION_TIMEOUT_MS was not told what to change.
  it('names what is wrong with a setting left to its default that another one conflicts with', () => {
    expect(() =>
      loadConfiguration(embeddedConfiguration, {
        SNAPSHOT_EVERY: '1000',
        CONNECTION_TIMEOUT_MS: '20000',
      }),
    ).toThrow(
      'Invalid configuration: HEARTBEAT_MS: must be below CONNECTION_TIMEOUT_MS (20000 ms), or a ' +
        'stream ends before its first heartbeat; EVENT_RETENTION_MAX_COUNT: must be at least ' +
        'SNAPSHOT_EVERY (1000): a trainer loads from its latest snapshot and the events after it',
    );
  });

  it('mints no dev tokens unless DEV_TOKENS=true (npm start sets it): they impersonate anyone', () => {
    expect(loadConfiguration(embeddedConfiguration, {}).DEV_TOKENS).toBe(false);
    expect(loadConfiguration(embeddedConfiguration, { DEV_TOKENS: 'true' }).DEV_TOKENS).toBe(true);
  });

  it('refuses DEV_TOKENS=true with NODE_ENV=production (the image sets it), naming both', () => {
    expect(() =>
      loadConfiguration(embeddedConfiguration, { DEV_TOKENS: 'true', NODE_ENV: 'production' }),
    ).toThrow('DEV_TOKENS: must not be true with NODE_ENV=production');
    expect(
      loadConfiguration(embeddedConfiguration, { DEV_TOKENS: 'false', NODE_ENV: 'production' })
        .DEV_TOKENS,
    ).toBe(false);
  });

  it('refuses a HEARTBEAT_MS not below CONNECTION_TIMEOUT_MS at start-up, naming both', () => {
    expect(() =>
      loadConfiguration(embeddedConfiguration, {
        HEARTBEAT_MS: '60000',
        CONNECTION_TIMEOUT_MS: '60000',
      }),
    ).toThrow(
      'HEARTBEAT_MS: must be below CONNECTION_TIMEOUT_MS (60000 ms), or a stream ends before its first heartbeat',
    );
    expect(
      loadConfiguration(embeddedConfiguration, {
        HEARTBEAT_MS: '1000',
        CONNECTION_TIMEOUT_MS: '1001',
      }).HEARTBEAT_MS,
    ).toBe(1_000);
  });

  it('makes its secrets when unset, and refuses given ones no client could present, by name', () => {
    const made = loadConfiguration(embeddedConfiguration, {});
    expect(made.ADMIN_TOKEN.length).toBeGreaterThanOrEqual(16);
    expect(made.JWT_SECRET.length).toBeGreaterThanOrEqual(32);
    expect(() =>
      loadConfiguration(embeddedConfiguration, { ADMIN_TOKEN: 'admin-token-of-24-chars!\n' }),
    ).toThrow('ADMIN_TOKEN: must not start or end with whitespace');
    expect(() =>
      loadConfiguration(embeddedConfiguration, { JWT_SECRET: ` ${'s'.repeat(40)}` }),
    ).toThrow('JWT_SECRET: must not start or end with whitespace');
    expect(() => loadConfiguration(embeddedConfiguration, { HEARTBEAT_MS: '3000000000' })).toThrow(
      'HEARTBEAT_MS: must be at most 2147483647 ms',
    );
  });

  it('reads HISTORY_SCAN_LIMIT, 2000 when unset', () => {
    expect(loadConfiguration(embeddedConfiguration, {}).HISTORY_SCAN_LIMIT).toBe(2_000);
    expect(() => loadConfiguration(embeddedConfiguration, { HISTORY_SCAN_LIMIT: '0' })).toThrow(
      'HISTORY_SCAN_LIMIT: must be a positive integer',
    );
  });

  it('reads CORS_ORIGINS as exact origins, none when unset', () => {
    expect(loadConfiguration(embeddedConfiguration, {}).CORS_ORIGINS).toEqual([]);
    expect(
      loadConfiguration(embeddedConfiguration, {
        CORS_ORIGINS: 'http://127.0.0.1:5500, https://Game.example.com:443',
      }).CORS_ORIGINS,
    ).toEqual(['http://127.0.0.1:5500', 'https://game.example.com']);
  });

  it.each([
    ['TRAINER_SPEED', 'x', 'TRAINER_SPEED: must be a positive number'],
    ['SNAPSHOT_EVERY', '-1', 'SNAPSHOT_EVERY: must not be negative'],
    ['MAX_CONNECTIONS', '0', 'MAX_CONNECTIONS: must be a positive integer'],
    ['HEARTBEAT_MS', '0', 'HEARTBEAT_MS: must be at least 100 ms'],
    ['CONNECTION_TIMEOUT_MS', '10', 'CONNECTION_TIMEOUT_MS: must be at least 1000 ms'],
    ['CORS_ORIGINS', '*', 'CORS_ORIGINS: wildcards are not accepted'],
    [
      'CORS_ORIGINS',
      'http://127.0.0.1:5500,https://a.example.com/x',
      'CORS_ORIGINS: not an origin (scheme://host[:port], without path, e.g. https://app.example.com): https://a.example.com/x',
    ],
  ])('refuses %s=%s in words naming the setting', (name, value, message) => {
    expect(() => loadConfiguration(embeddedConfiguration, { [name]: value })).toThrow(message);
  });

  it('refuses a PROGRESS_HISTORY_TTL_MS its order consumer’s delivery can outlast, naming the bound', () => {
    // 4 attempts of 10 000 + 5 × 400 ms, and backoffs of 100, 200 and 400 ms: 48 700 ms.
    expect(() =>
      loadConfiguration(embeddedConfiguration, { PROGRESS_HISTORY_TTL_MS: '2000' }),
    ).toThrow('PROGRESS_HISTORY_TTL_MS: must be more than 48700 ms');
    expect(
      loadConfiguration(embeddedConfiguration, { PROGRESS_HISTORY_TTL_MS: '48701' })
        .PROGRESS_HISTORY_TTL_MS,
    ).toBe(48_701);
  });
});

describe('embedded settings: ADMIN_TOKEN apart from the token secrets', () => {
  // As in the distributed apps: whoever holds the admin token could sign any user's token.
  const shared = 'a-secret-used-as-both-0123456789-abcdef';

  it('refuses a JWT_SECRET that is ADMIN_TOKEN, naming it', () => {
    expect(() =>
      loadConfiguration(embeddedConfiguration, { JWT_SECRET: shared, ADMIN_TOKEN: shared }),
    ).toThrow('JWT_SECRET: must not be ADMIN_TOKEN');
  });
});
