#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { hasNoNul, isWellFormedText, MAX_USER_ID_LENGTH, TrainerId } from '@causeway/contracts';
import { MAX_TOKEN_TRAINERS, TokenService, authSettings } from '@causeway/platform';

const USAGE = `usage: mint-token <userId> [--ttl <seconds>] [--trainer <id>]... [--issuer <iss>]
(at most ${MAX_TOKEN_TRAINERS} --trainer ids)
Prints an access token for <userId>, signed with JWT_SECRET from the environment
(never from the command line, where other users of the machine could read it).
--ttl is at most JWT_MAX_LIFETIME_S from the environment (default 86400): the apps refuse
tokens that live longer.`;

export interface MintTokenResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI without the process: argv (after the script) and environment in, output out. */
export async function mintToken(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<MintTokenResult> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        ttl: { type: 'string', default: '3600' },
        trainer: { type: 'string', multiple: true, default: [] },
        issuer: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    return { code: 2, stdout: '', stderr: `${(error as Error).message}\n${USAGE}\n` };
  }
  const { values, positionals } = parsed;
  if (values.help) return { code: 0, stdout: `${USAGE}\n`, stderr: '' };
  if (positionals.length !== 1)
    return { code: 2, stdout: '', stderr: `expected exactly one userId\n${USAGE}\n` };
  // What every app's TokenService refuses (as POST /api/dev/tokens does): a token for it would
  // be printed with exit code 0 and then answered 401 `invalid` everywhere.
  const refused = userIdProblem(positionals[0]!);
  if (refused) return { code: 2, stdout: '', stderr: `userId: ${refused}\n` };
  if (values.trainer.length > MAX_TOKEN_TRAINERS)
    return {
      code: 2,
      stdout: '',
      stderr: `--trainer: at most ${MAX_TOKEN_TRAINERS} trainer ids (MAX_TOKEN_TRAINERS), got ${values.trainer.length}\n`,
    };
  for (const trainer of values.trainer) {
    const checked = TrainerId.safeParse(trainer);
    if (!checked.success)
      return {
        code: 2,
        stdout: '',
        stderr: `--trainer ${JSON.stringify(trainer)}: ${checked.error.issues[0]!.message}\n`,
      };
  }
  const ttl = Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl < 1)
    return { code: 2, stdout: '', stderr: `--ttl: must be a positive number of seconds\n` };
  const lifetime = authSettings.JWT_MAX_LIFETIME_S.safeParse(env.JWT_MAX_LIFETIME_S);
  if (!lifetime.success)
    return {
      code: 2,
      stdout: '',
      stderr: `JWT_MAX_LIFETIME_S: ${lifetime.error.issues[0]!.message}\n`,
    };
  if (ttl > lifetime.data)
    return {
      code: 2,
      stdout: '',
      stderr: `--ttl: must be at most ${lifetime.data} seconds (JWT_MAX_LIFETIME_S): command-api, order-processor and sse-gateway refuse tokens that live longer\n`,
    };
  const secret = env.JWT_SECRET;
  if (!secret || secret.length < 32)
    return {
      code: 2,
      stdout: '',
      stderr: `JWT_SECRET: ${secret ? 'must be at least 32 characters' : 'is required'} (set it in the environment)\n`,
    };
  const tokens = new TokenService({
    secret,
    issuer: values.issuer ?? env.JWT_ISSUER ?? 'causeway',
    maxLifetimeSeconds: lifetime.data,
  });
  const { token } = await tokens.issue(positionals[0]!, {
    ttlSeconds: ttl,
    trainerIds: values.trainer,
  });
  return { code: 0, stdout: `${token}\n`, stderr: '' };
}

/** Why a token's `sub` could not be `userId` (TokenService.verify refuses it), if so. */
function userIdProblem(userId: string): string | undefined {
  if (userId.trim().length === 0) return 'must not be empty or blank';
  if (userId.length > MAX_USER_ID_LENGTH) return `must be at most ${MAX_USER_ID_LENGTH} characters`;
  if (!hasNoNul(userId)) return 'must not contain a NUL character';
  if (!isWellFormedText(userId)) return 'must be well-formed Unicode (a lone surrogate is not)';
  return undefined;
}

if (require.main === module) {
  void mintToken(process.argv.slice(2), process.env).then(({ code, stdout, stderr }) => {
    process.stdout.write(stdout);
    process.stderr.write(stderr);
    process.exitCode = code;
  });
}
