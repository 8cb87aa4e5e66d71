import { Inject, Injectable } from '@nestjs/common';
import { type Caller, InvalidTokenError, bearerToken } from '@causeway/platform';
import { COMMAND_API_OPTIONS, type CommandApiOptions } from '../command-api.options';
import { UnauthenticatedError } from '../errors/command-api.errors';
import { type ApiRequest, header } from '../http/http.types';

/** Who is calling a command endpoint: the `Authorization: Bearer` JWT's caller. */
@Injectable()
export class BearerAuthenticator {
  constructor(@Inject(COMMAND_API_OPTIONS) private readonly options: CommandApiOptions) {}

  /** @throws UnauthenticatedError without a token, or with one that does not verify */
  async caller(request: ApiRequest): Promise<Caller> {
    const token = bearerToken(header(request, 'authorization'));
    if (!token)
      throw new UnauthenticatedError('an Authorization: Bearer <token> header is required');
    try {
      return await this.options.tokens.verify(token);
    } catch (error) {
      if (!(error instanceof InvalidTokenError)) throw error;
      throw new UnauthenticatedError(error.message, error.refusal);
    }
  }
}
