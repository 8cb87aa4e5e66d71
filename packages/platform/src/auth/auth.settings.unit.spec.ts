import { loadConfiguration } from '@causeway/cqrs-core';
import { z } from 'zod';
import { authSettings } from './auth.settings';

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
