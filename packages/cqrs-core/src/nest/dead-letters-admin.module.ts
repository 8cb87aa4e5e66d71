import { type DynamicModule, Module } from '@nestjs/common';
import { ADMIN_TOKEN, AdminTokenGuard } from './admin-token.guard';
import {
  ADMIN_DEAD_LETTERS,
  type AdminDeadLetters,
  DeadLettersController,
} from './dead-letters.controller';

/** What the admin endpoint needs: the queue, where replays go, and the admin token (16+ characters). */
export type DeadLettersAdminOptions = AdminDeadLetters & { token: string };

/** The same, from a factory (e.g. the token from a ConfigService): like CqrsCoreModule.forRootAsync. */
export interface DeadLettersAdminAsyncOptions {
  imports?: unknown[];
  inject?: unknown[];
  useFactory: (...args: never[]) => DeadLettersAdminOptions | Promise<DeadLettersAdminOptions>;
}

const OPTIONS = Symbol('causeway:dead-letters-admin-options');

/**
 * Mounts /admin/dead-letters, protected by the admin token.
 * @throws Error at start-up when the token is shorter than 16 characters
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
          provide: ADMIN_DEAD_LETTERS,
          inject: [OPTIONS],
          useFactory: (resolved: DeadLettersAdminOptions): AdminDeadLetters => ({
            queue: resolved.queue,
            publisher: resolved.publisher,
          }),
        },
        AdminTokenGuard,
      ],
    };
  }
}
