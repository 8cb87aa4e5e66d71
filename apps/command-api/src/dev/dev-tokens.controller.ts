import { hasNoNul, isWellFormedText, MAX_USER_ID_LENGTH, TrainerId } from '@causeway/contracts';
import { CallerGate, MAX_TOKEN_TRAINERS } from '@causeway/platform';
import {
  Controller,
  Inject,
  Logger,
  type OnApplicationBootstrap,
  Post,
  Req,
  Res,
} from '@nestjs/common';
import { z } from 'zod';
import { COMMAND_API_OPTIONS, type CommandApiOptions } from '../command-api.options';
import { validate } from '../commands/validation';
import { EndpointRunner, jsonBody } from '../http/endpoint.runner';
import { type ApiRequest, type ApiResponse } from '../http/http.types';
import { refuseQuery } from '../http/query.refusal';

export const DevTokenRequest = z.strictObject({
  // One error for "" and "  " alike; the pattern shows in the OpenAPI document too.
  userId: z
    .string()
    .max(MAX_USER_ID_LENGTH)
    .regex(/\S/, 'must not be empty or blank')
    // The tokens refuse such a `sub`: a token issued for it would never verify.
    .refine(hasNoNul, 'must not contain a NUL character')
    .refine(isWellFormedText, 'must be well-formed Unicode (a lone surrogate is not)'),
  trainerIds: z.array(TrainerId).max(MAX_TOKEN_TRAINERS).optional(),
  ttlSeconds: z
    .number()
    .int()
    .min(1)
    .max(86_400)
    .optional()
    .describe(
      'how long the token lives (default 3600); a longer one than JWT_MAX_LIFETIME_S is cut to it',
    ),
});

export const DevToken = z.object({
  token: z.string(),
  expiresAt: z.number().int().describe('epoch milliseconds'),
});

/**
 * `POST /api/dev/tokens {userId}` → a token for anyone who asks: the demo page's login. Exists
 * only with DEV_TOKENS=true (CommandApiModule registers it then, and its body reader runs only
 * then): otherwise Nest's 404, as for any path that is not there. Rate limited by client
 * address (RATE_LIMIT_POINTS). When on, the app says so at start-up, in a warn line: a deployment
 * started with it by mistake lets anyone who reaches it act as any user.
 */
@Controller('api/dev/tokens')
export class DevTokensController implements OnApplicationBootstrap {
  constructor(
    @Inject(COMMAND_API_OPTIONS) private readonly options: CommandApiOptions,
    private readonly runner: EndpointRunner,
    private readonly gate: CallerGate,
  ) {}

  onApplicationBootstrap(): void {
    new Logger('DevTokens').warn(
      'DEV_TOKENS=true: POST /api/dev/tokens gives anyone who can reach this app a token for any user (for demos only; DEV_TOKENS=false turns it off)',
    );
  }

  @Post()
  async issue(@Req() request: ApiRequest, @Res() response: ApiResponse): Promise<void> {
    await this.runner.run('POST /api/dev/tokens', request, response, async () => {
      // Anyone may ask: counted against the client address, as unauthenticated requests are.
      await this.gate.charge(this.gate.addressKey(request));
      refuseQuery(request);
      const input = validate(DevTokenRequest, jsonBody(request), '(body)');
      const issued = await this.options.tokens.issue(input.userId, {
        trainerIds: input.trainerIds,
        ttlSeconds: input.ttlSeconds,
      });
      return { status: 201, body: issued, outcome: 'ok' };
    });
  }
}
