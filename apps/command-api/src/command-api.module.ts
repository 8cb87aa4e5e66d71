import { type DynamicModule, Logger, Module } from '@nestjs/common';
import { METRICS_REGISTRY, UNREAD_BODIES } from '@causeway/cqrs-core/nest';
import { Registry } from 'prom-client';
import { CallerGate, revocationsLifecycle } from '@causeway/platform';
import { BearerAuthenticator } from './auth/bearer.authenticator';
import { COMMAND_API_OPTIONS, type CommandApiOptions } from './command-api.options';
import { RateLimitedError, UnauthenticatedError } from './errors/command-api.errors';
import { CommandService } from './commands/command.service';
import { DevTokensController } from './dev/dev-tokens.controller';
import { unreadWithoutToken } from './http/body.endpoints';
import { EndpointRunner } from './http/endpoint.runner';
import { IdempotencyGate } from './idempotency/idempotency.gate';
import { CommandApiMetrics } from './metrics/command-api.metrics';
import { AdminCommandsController, CommandsController } from './rest/commands.controller';
import { OrdersController } from './rest/orders.controller';
import { OrderIntake } from './orders/order.intake';
import { TrainersController } from './rest/trainers.controller';
import { RpcController } from './rpc/rpc.controller';

/**
 * The command API (S0-5) as a feature module: REST, JSON-RPC 2.0 (`POST /rpc`) and the seed's
 * `POST /trainer.Move`, each answering `accepted` at once and sending the command on the
 * global CommandBus of CqrsCoreModule (which the host must import).
 *
 * Every endpoint: Bearer JWT (401), rate limit per caller (429 + Retry-After), own trainers
 * only (403 / JSON-RPC -32003), zod validation naming each field (422 / -32602),
 * Idempotency-Key (same answer on retry, 422 on reuse with another request, 409 while in flight),
 * 503 when the command could not be recorded or sent. Authentication, rate limit and
 * idempotency failures of `/rpc` are HTTP problem details, not JSON-RPC errors: they concern the
 * whole HTTP request. Also call `setupCommandApi(app, options)` before the app listens: it
 * mounts the body reader (413, 415) and the OpenAPI document at /docs.
 */
@Module({})
export class CommandApiModule {
  static forRoot(options: CommandApiOptions): DynamicModule {
    return {
      module: CommandApiModule,
      controllers: [
        RpcController,
        TrainersController,
        CommandsController,
        AdminCommandsController,
        ...(options.orders ? [OrdersController] : []),
        // Not there at all without DEV_TOKENS: Nest's own 404, as for any unknown path.
        ...(options.devTokens ? [DevTokensController] : []),
      ],
      providers: [
        { provide: COMMAND_API_OPTIONS, useValue: options },
        // What the body reader leaves unread (setupCommandApi), Nest's parsers leave too.
        {
          provide: UNREAD_BODIES,
          useValue: unreadWithoutToken(options.devTokens, options.orders !== undefined),
        },
        {
          provide: CommandApiMetrics,
          inject: [{ token: METRICS_REGISTRY, optional: true }],
          useFactory: (registry?: Registry) => new CommandApiMetrics(registry ?? new Registry()),
        },
        EndpointRunner,
        BearerAuthenticator,
        {
          provide: CallerGate,
          useFactory: () => {
            const logger = new Logger(CallerGate.name);
            return new CallerGate({
              limiter: options.rateLimiter,
              proxies: options.trustedProxies,
              limited: (retryAfterSeconds) => new RateLimitedError(retryAfterSeconds),
              refused: (error) => error instanceof UnauthenticatedError,
              // Once per outage of the limiter's Redis (then once a minute), not per request.
              warn: (message) => logger.warn(message),
              info: (message) => logger.log(message),
            });
          },
        },
        IdempotencyGate,
        CommandService,
        OrderIntake,
        ...(options.revocations ? [revocationsLifecycle(options.revocations)] : []),
      ],
      exports: [CommandApiMetrics],
    };
  }
}
