import { type ConfigurationError, loadConfiguration } from '@causeway/cqrs-core';
import { z } from 'zod';
import {
  adminTokenApartFromJwtSecrets,
  authSettings,
  devTokenSettings,
  devTokensOutsideProduction,
} from './auth.settings';

const settings = z.object(authSettings);
const secret = 'a-secret-that-is-long-enough-0123456789';

describe('authSettings', () => {
  it.each([{}, { JWT_SECRET: '' }, { JWT_SECRET: '  ' }])(
    'names the apps that share JWT_SECRET when it is missing (%j)',
    (env) => {
      expect(() => loadConfiguration(settings, env)).toThrow(
        'JWT_SECRET: is required (HS256 secret shared by command-api, sse-gateway and order-processor)',
      );
    },
  );

  it('reads JWT_PREVIOUS_SECRETS as a list of trimmed secrets, none when unset', () => {
    expect(settings.parse({ JWT_SECRET: secret }).JWT_PREVIOUS_SECRETS).toEqual([]);
    const other = 'b'.repeat(40);
    expect(
      settings.parse({ JWT_SECRET: secret, JWT_PREVIOUS_SECRETS: ` ${other} ,${secret}` })
        .JWT_PREVIOUS_SECRETS,
    ).toEqual([other, secret]);
  });

  it('refuses a JWT_SECRET that could not move into JWT_PREVIOUS_SECRETS as it is', () => {
    const problems = (value: string) =>
      settings.safeParse({ JWT_SECRET: value }).error?.issues.map((issue) => issue.message);
    expect(problems(`${'a'.repeat(32)},${'b'.repeat(32)}`)).toEqual(['must not contain a comma']);
    expect(problems(` ${secret}`)).toEqual(['must not start or end with whitespace']);
    expect(problems(secret)).toBeUndefined();
  });

  it('refuses a previous secret shorter than 32 characters', () => {
    const parsed = settings.safeParse({
      JWT_SECRET: secret,
      JWT_PREVIOUS_SECRETS: `${secret},short`,
    });
    expect(parsed.error?.issues.map((issue) => issue.message)).toEqual([
      'each comma-separated secret must be at least 32 characters',
    ]);
  });
});

// The checks of two settings run whatever else failed: with zod's default, a missing REDIS_URL
// (or any malformed setting) hid them, and their problems showed only at the next start.
describe('the token settings checks, with other problems', () => {
  const app = z
    .object({
      REDIS_URL: z.string({ message: 'is required' }),
      ADMIN_TOKEN: z.string().optional(),
      ...authSettings,
      ...devTokenSettings,
    })
    .check(adminTokenApartFromJwtSecrets, devTokensOutsideProduction);
  const problems = (env: NodeJS.ProcessEnv) => {
    try {
      loadConfiguration(app, env);
    } catch (error) {
      return (error as ConfigurationError).issues;
    }
  };

  it('names an ADMIN_TOKEN among the token secrets along with a missing setting', () => {
    expect(
      problems({
        ADMIN_TOKEN: secret,
        JWT_SECRET: secret,
        JWT_PREVIOUS_SECRETS: `${'b'.repeat(40)},${secret}`,
      }),
    ).toEqual([
      { setting: 'REDIS_URL', problem: 'is required' },
      {
        setting: 'JWT_SECRET',
        problem: 'must not be ADMIN_TOKEN: whoever holds the admin token could sign any token',
      },
      {
        setting: 'JWT_PREVIOUS_SECRETS',
        problem: 'must not hold ADMIN_TOKEN: whoever holds the admin token could sign any token',
      },
    ]);
  });

  it('names DEV_TOKENS=true with NODE_ENV=production along with a missing setting', () => {
    expect(problems({ JWT_SECRET: secret, DEV_TOKENS: 'true', NODE_ENV: 'production' })).toEqual([
      { setting: 'REDIS_URL', problem: 'is required' },
      {
        setting: 'DEV_TOKENS',
        problem: expect.stringMatching(/^must not be true with NODE_ENV=production: /),
      },
    ]);
  });
});
