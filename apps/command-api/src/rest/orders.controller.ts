import { Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import { PlaceOrderRequest } from '@causeway/contracts';
import { CallerGate } from '@causeway/platform';
import { BearerAuthenticator } from '../auth/bearer.authenticator';
import { fieldErrors } from '../commands/validation';
import { type FieldError, InvalidOrderError } from '../errors/command-api.errors';
import { EndpointRunner, jsonBody } from '../http/endpoint.runner';
import { type ApiRequest, type ApiResponse, header } from '../http/http.types';
import { refuseQuery } from '../http/query.refusal';
import { IdempotencyGate, idempotencyKeyErrors } from '../idempotency/idempotency.gate';
import { OrderIntake } from '../orders/order.intake';

/**
 * The body of an order, or InvalidOrderError (400 `invalid-request`, ADR 015) naming every wrong
 * field: the body's, then `keyErrors` (the Idempotency-Key's, idempotencyKeyErrors), in one
 * answer whichever is wrong. A malformed key alone was a 422 `invalid-fields` (the gate's), and
 * with a bad body went unnamed: the answer depended on which was wrong.
 */
export function orderOf(body: unknown, keyErrors: readonly FieldError[] = []): PlaceOrderRequest {
  const result = PlaceOrderRequest.safeParse(body);
  if (result.success && keyErrors.length === 0) return result.data;
  const bodyErrors = result.success ? [] : fieldErrors(result.error, body, '(body)');
  throw new InvalidOrderError([...bodyErrors, ...keyErrors]);
}

/**
 * `POST /api/v2/progress/orders` (SPEC S3-2, ADR 015): the caller (their token's subject, never
 * the body) orders `items`; answers 202 `{taskId, statusUrl, subscribeUrl}` once Kafka has the
 * order. Served only when CommandApiOptions.orders is configured.
 */
@Controller('api/v2/progress')
export class OrdersController {
  constructor(
    private readonly runner: EndpointRunner,
    private readonly gate: CallerGate,
    private readonly auth: BearerAuthenticator,
    private readonly idempotency: IdempotencyGate,
    private readonly intake: OrderIntake,
  ) {}

  @Post('orders')
  @HttpCode(202)
  async place(@Req() request: ApiRequest, @Res() response: ApiResponse): Promise<void> {
    await this.runner.run('POST /api/v2/progress/orders', request, response, async () => {
      const caller = await this.gate.admit(request, () => this.auth.caller(request));
      refuseQuery(request);
      // Refused before the Idempotency-Key is looked up: bad input writes nothing, even there.
      const order = orderOf(jsonBody(request), idempotencyKeyErrors(request));
      const keyed = header(request, 'idempotency-key') !== undefined;
      const answer = await this.idempotency.run(
        caller,
        request,
        async () => ({
          status: 202,
          body: await this.intake.place(caller, order, keyed),
          storable: true,
        }),
        '/api/v2/progress/orders',
      );
      return { ...answer, outcome: answer.replayed ? 'replayed' : 'accepted' };
    });
  }
}
