import { type DynamicModule, Module } from '@nestjs/common';
import { ADMIN_TOKEN, AdminTokenGuard } from './admin-token.guard';
import {
  ADMIN_DEAD_LETTERS,
  type AdminDeadLetters,
  DeadLettersController,
} from './dead-letters.controller';

/** Mounts /admin/dead-letters, protected by the admin token. */
@Module({})
export class DeadLettersAdminModule {
  static forRoot(options: AdminDeadLetters & { token: string }): DynamicModule {
    return {
      module: DeadLettersAdminModule,
      controllers: [DeadLettersController],
      providers: [
        { provide: ADMIN_TOKEN, useValue: options.token },
        {
          provide: ADMIN_DEAD_LETTERS,
          useValue: { queue: options.queue, publisher: options.publisher },
        },
        AdminTokenGuard,
      ],
    };
  }
}
