import { Controller, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import { type Caller, CallerGate, userKey } from '@causeway/platform';
import { BearerAuthenticator } from '../auth/bearer.authenticator';
import { COMMAND_API_OPTIONS, type CommandApiOptions } from '../command-api.options';
import { CommandService } from '../commands/command.service';
import { EndpointRunner } from '../http/endpoint.runner';
import { type ApiRequest, type ApiResponse } from '../http/http.types';
import { refuseQuery } from '../http/query.refusal';
import { IdempotencyGate } from '../idempotency/idempotency.gate';
import { CommandApiMetrics } from '../metrics/command-api.metrics';
import {
  answerJsonRpc,
  type BatchLimit,
  type JsonRpcMethod,
  MAX_BATCH,
  parseErrorResponse,
} from './json-rpc.protocol';
import { RPC_READS, rpcMethods, seedMoveMethods } from './rpc.methods';

/**
 * JSON-RPC 2.0 over HTTP (S0-5). Errors of one call are JSON-RPC errors in a 200 answer
 * (-32700 parse error, -32600, -32601, -32602 with `data.errors` naming the fields, -32003 not
 * your trainer, -32004 unknown command, -32005 bus unavailable, -32603). Errors of the whole
 * HTTP request are HTTP problem details, as on the REST endpoints: 401 missing/invalid token
 * (with WWW-Authenticate), 429 rate limited, 409 Idempotency-Key in flight, 422 Idempotency-Key
 * reused with another request, 413, 415, 503 when the key cannot be checked or stamped (its
 * store is down, or the server clock is not read yet just after the start).
 * A request of notifications only is answered 204. A batch costs one rate-limit point per call
 * (its replay under an Idempotency-Key one, as any replay), and holds at most MAX_BATCH calls, or RATE_LIMIT_POINTS when that is fewer: a larger batch
 * could never be paid for (always 429, whatever the wait), so it is refused for good (-32600
 * naming the limit) before it is charged.
 */
@Controller()
export class RpcController {
  private readonly batchLimit: BatchLimit;

  constructor(
    private readonly runner: EndpointRunner,
    private readonly gate: CallerGate,
    private readonly auth: BearerAuthenticator,
    private readonly idempotency: IdempotencyGate,
    private readonly commands: CommandService,
    private readonly metrics: CommandApiMetrics,
    @Inject(COMMAND_API_OPTIONS) options: CommandApiOptions,
  ) {
    const points = options.rateLimiter.points;
    this.batchLimit =
      points < MAX_BATCH
        ? { max: points, because: `when RATE_LIMIT_POINTS is ${points}` }
        : { max: MAX_BATCH };
  }

  @Post('rpc')
  @HttpCode(200)
  async rpc(@Req() request: ApiRequest, @Res() response: ApiResponse): Promise<void> {
    await this.serve('POST /rpc', request, response, (caller) => rpcMethods(caller, this.commands));
  }

  /** The seed's path: one `trainer.Move` request whose trainer defaults to the caller's own. */
  @Post('trainer.Move')
  @HttpCode(200)
  async seedMove(@Req() request: ApiRequest, @Res() response: ApiResponse): Promise<void> {
    await this.serve(
      'POST /trainer.Move',
      request,
      response,
      (caller) => seedMoveMethods(caller, this.commands),
      (body) =>
        typeof body === 'object' && body !== null && !Array.isArray(body) && !('method' in body)
          ? { ...body, method: 'trainer.Move' }
          : body,
    );
  }

  private async serve(
    endpoint: string,
    request: ApiRequest,
    response: ApiResponse,
    methodsOf: (caller: Caller) => Record<string, JsonRpcMethod>,
    normalize: (body: unknown) => unknown = (body) => body,
  ): Promise<void> {
    await this.runner.run(endpoint, request, response, async () => {
      const caller = await this.gate.admit(request, () => this.auth.caller(request));
      refuseQuery(request);
      const body = request.commandApiBody;
      if (!body || body.kind !== 'json') {
        const reason = body?.kind === 'malformed' ? body.reason : 'the body is empty';
        this.metrics.count(`rpc (unparsed)`, 'parse-error');
        return { status: 200, body: parseErrorResponse(reason), outcome: 'ok' };
      }
      const value = normalize(body.value);
      const methods = methodsOf(caller);
      const answer = await this.idempotency.run(
        caller,
        request,
        async () => {
          // A batch costs one point per call (a refused, oversized one costs one: it runs
          // nothing), charged only when it runs: a replay of its answer under its
          // Idempotency-Key runs nothing and costs the request's one point, as a REST replay.
          // Beyond the rate, the 429 frees the key as any refusal: nothing was sent.
          if (Array.isArray(value) && value.length <= this.batchLimit.max)
            await this.gate.charge(userKey(caller), value.length - 1);
          const rpc = await answerJsonRpc(value, methods, RPC_READS, this.batchLimit);
          for (const call of rpc.calls)
            this.metrics.count(
              `rpc ${Object.hasOwn(methods, call.method) ? call.method : '(unknown)'}`,
              call.outcome,
            );
          const { storable, sentNothing } = rpc;
          return rpc.response === undefined
            ? { status: 204, storable, sentNothing }
            : { status: 200, body: rpc.response, storable, sentNothing };
        },
        // The route as matched: `POST /RPC` is this endpoint too (Express ignores case).
        endpoint.slice(endpoint.indexOf(' ') + 1),
      );
      return { ...answer, outcome: answer.replayed ? 'replayed' : 'ok' };
    });
  }
}
