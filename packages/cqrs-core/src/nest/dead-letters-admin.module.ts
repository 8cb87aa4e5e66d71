import { type DynamicModule, Module } from '@nestjs/common';
import { type Publisher } from '../transport/transport.port';
import {
  ADMIN_REFUSED,
  ADMIN_TOKEN,
  type AdminRefused,
  AdminTokenGuard,
} from './admin-token.guard';
import { BUS_PUBLISHER } from './cqrs-core.tokens';
import {
  ADMIN_DEAD_LETTERS,
  type AdminDeadLetters,
  DeadLettersController,
} from './dead-letters.controller';

/**
 * What the admin endpoint needs: the queue, the admin token (16+ characters), and where replays
 * go — by default the bus's publisher from CqrsCoreModule (counted in
 * causeway_messages_published_total like every publish); a `publisher` given here is used as
 * it is. `refused` is told of each request without the token, before its 401 (see
 * AdminRefused): give one that rate-limits the client address, across instances.
 */
export type DeadLettersAdminOptions = Omit<AdminDeadLetters, 'publisher'> & {
  token: string;
  publisher?: Publisher;
  refused?: AdminRefused;
};

/** The same, from a factory (e.g. the token from a ConfigService): like CqrsCoreModule.forRootAsync. */
export interface DeadLettersAdminAsyncOptions {
  imports?: unknown[];
  inject?: unknown[];
  useFactory: (...args: never[]) => DeadLettersAdminOptions | Promise<DeadLettersAdminOptions>;
}

const OPTIONS = Symbol('causeway:dead-letters-admin-options');

/**
 * Mounts /admin/dead-letters, protected by the admin token.
 * @throws Error at start-up when the token is shorter than 16 characters, or when there is no
 *   publisher (none given, no CqrsCoreModule)
 */
@Module({})
export class DeadLettersAdminModule {
  static forRoot(options: DeadLettersAdminOptions): DynamicModule {
    return DeadLettersAdminModule.forRootAsync({ useFactory: () => options });
  }

  static forRootAsync(options: DeadLettersAdminAsyncOptions): DynamicModule {
    return {
      module: DeadLettersAdminModule,
      imports: (options.imports ?? []) as DynamicModule[],
      controllers: [DeadLettersController],
      providers: [
        {
          provide: OPTIONS,
          inject: (options.inject ?? []) as never[],
          useFactory: options.useFactory as (...args: unknown[]) => unknown,
        },
        {
          provide: ADMIN_TOKEN,
          inject: [OPTIONS],
          useFactory: (resolved: DeadLettersAdminOptions) => resolved.token,
        },
        {
          provide: ADMIN_REFUSED,
          inject: [OPTIONS],
          useFactory: (resolved: DeadLettersAdminOptions) => resolved.refused,
        },
        {
          provide: ADMIN_DEAD_LETTERS,
          inject: [OPTIONS, { token: BUS_PUBLISHER, optional: true }],
          useFactory: (resolved: DeadLettersAdminOptions, bus?: Publisher): AdminDeadLetters => {
            const publisher = resolved.publisher ?? bus;
            if (!publisher)
              throw new Error(
                'DeadLettersAdminModule needs a publisher for replays: import CqrsCoreModule (its bus publisher is used) or pass `publisher`',
              );
            return { queue: resolved.queue, publisher };
          },
        },
        AdminTokenGuard,
      ],
    };
  }
}
