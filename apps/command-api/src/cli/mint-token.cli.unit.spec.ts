import { TokenService } from '@causeway/platform';
import { mintToken } from './mint-token.cli';

describe('mint-token CLI', () => {
  const secret = 'a-test-secret-that-is-long-enough-123';
  const tokens = new TokenService({ secret });

  it('prints a token for the user, signed with JWT_SECRET from the environment', async () => {
    const result = await mintToken(['ash', '--trainer', 'pikachu'], { JWT_SECRET: secret });
    expect(result.code).toBe(0);
    const caller = await tokens.verify(result.stdout.trim());
    expect(caller).toMatchObject({ userId: 'ash', trainerIds: ['pikachu'] });
  });

  it('honours --ttl', async () => {
    const result = await mintToken(['ash', '--ttl', '120'], { JWT_SECRET: secret });
    const payload = JSON.parse(
      Buffer.from(result.stdout.trim().split('.')[1]!, 'base64url').toString(),
    ) as { exp: number; iat: number };
    expect(payload.exp - payload.iat).toBe(120);
  });

  it('refuses without JWT_SECRET in the environment, naming it, and takes no secret from argv', async () => {
    const missing = await mintToken(['ash'], {});
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('JWT_SECRET: is required');
    expect(missing.stdout).toBe('');
    const fromArgv = await mintToken(['ash', '--secret', secret], {});
    expect(fromArgv.code).toBe(2);
    expect(fromArgv.stdout).toBe('');
  });

  it('refuses a bad --ttl and a missing user id', async () => {
    expect((await mintToken(['ash', '--ttl', 'soon'], { JWT_SECRET: secret })).stderr).toContain(
      '--ttl',
    );
    expect((await mintToken([], { JWT_SECRET: secret })).stderr).toContain('userId');
  });

  it('refuses a user or trainer id no app would accept, instead of printing a token that never works', async () => {
    const env = { JWT_SECRET: secret };
    for (const [argv, named] of [
      [['  '], 'userId'],
      [['ash\u0000'], 'userId'],
      [['\ud800'], 'userId'],
      [['a'.repeat(129)], 'userId'],
      [['ash', '--trainer', 'pika\u0000chu'], '--trainer'],
      [['ash', '--trainer', ''], '--trainer'],
    ] as const) {
      const result = await mintToken(argv, env);
      expect(result).toMatchObject({ code: 2, stdout: '' });
      expect(result.stderr).toContain(named);
    }
  });

  it('refuses more --trainer ids than a token may carry, naming the limit', async () => {
    const trainers = (count: number) =>
      Array.from({ length: count }, (_, i) => ['--trainer', `t${i}`]).flat();
    const refused = await mintToken(['ash', ...trainers(33)], { JWT_SECRET: secret });
    expect(refused).toEqual({
      code: 2,
      stdout: '',
      stderr: '--trainer: at most 32 trainer ids (MAX_TOKEN_TRAINERS), got 33\n',
    });
    const printed = await mintToken(['ash', ...trainers(32)], { JWT_SECRET: secret });
    expect(printed.code).toBe(0);
    expect((await tokens.verify(printed.stdout.trim())).trainerIds).toHaveLength(32);
  });

  it('refuses a --ttl longer than JWT_MAX_LIFETIME_S (default one day), and a bad one', async () => {
    const day = await mintToken(['ash', '--ttl', '86400'], { JWT_SECRET: secret });
    expect(day.code).toBe(0);
    const longer = await mintToken(['ash', '--ttl', '86401'], { JWT_SECRET: secret });
    expect(longer).toMatchObject({ code: 2, stdout: '' });
    expect(longer.stderr).toContain('--ttl: must be at most 86400 seconds (JWT_MAX_LIFETIME_S)');
    // Every app that verifies tokens refuses it, the progress reads' order-processor too.
    expect(longer.stderr).toContain('command-api, order-processor and sse-gateway refuse');
    const env = { JWT_SECRET: secret, JWT_MAX_LIFETIME_S: '600' };
    expect((await mintToken(['ash', '--ttl', '601'], env)).stderr).toContain('at most 600 seconds');
    expect((await mintToken(['ash', '--ttl', '600'], env)).code).toBe(0);
    const bad = await mintToken(['ash'], { JWT_SECRET: secret, JWT_MAX_LIFETIME_S: 'a day' });
    expect(bad).toMatchObject({ code: 2, stdout: '' });
    expect(bad.stderr).toContain('JWT_MAX_LIFETIME_S: must be a positive integer');
  });
});
